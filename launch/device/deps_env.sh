# Sourced by launch/device/check.sh: unpacks the Debian packages of launch/device/fetch_deps.sh into
# $LLAMAREC_DEPS_PREFIX (default /tmp/llamarec-deps; dpkg-deb -x, not installed: the machine's own
# system stays as it is) and points the build and the run at them:
#   deps_cmake_args   CMake arguments that find MPI, HDF5 and the header/config packages there
#   PATH, LD_LIBRARY_PATH, OPAL_PREFIX   Open MPI (libraries, plugins, help files, orted) relocated there
# Usage: source launch/device/deps_env.sh <folder of .deb files>
deps_debs="$1"
deps_prefix="${LLAMAREC_DEPS_PREFIX:-/tmp/llamarec-deps}"
if ! ls "$deps_debs"/*.deb >/dev/null 2>&1; then
  echo "deps_env: no .deb files in $deps_debs (run launch/device/fetch_deps.sh first)" >&2
  return 1
fi
rm -rf "$deps_prefix" && mkdir -p "$deps_prefix"
for deb in "$deps_debs"/*.deb; do dpkg-deb -x "$deb" "$deps_prefix" || return 1; done
deps_usr="$deps_prefix/usr"
deps_lib="$deps_usr/lib/x86_64-linux-gnu"
# Links that dpkg's alternatives or absolute targets would have resolved on Debian, made relative.
while IFS= read -r link; do
  target="$(readlink "$link")"
  [ -e "$deps_prefix$target" ] && ln -sfn "$(realpath --relative-to="$(dirname "$link")" "$deps_prefix$target")" "$link"
done < <(find "$deps_prefix" -type l -lname '/*')
for tool in mpicxx mpicc mpirun mpiexec; do ln -sfn "$tool.openmpi" "$deps_usr/bin/$tool"; done
export PATH="$deps_usr/bin:$PATH"
export LD_LIBRARY_PATH="$deps_lib:$deps_lib/openmpi/lib:$deps_lib/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Open MPI and PMIx find their plugins, help files and orted relative to these.
export OPAL_PREFIX="$deps_usr" PMIX_INSTALL_PREFIX="$deps_lib/pmix2"
export OPAL_LIBDIR="$deps_lib/openmpi/lib" OPAL_PKGLIBDIR="$deps_lib/openmpi/lib/openmpi3"
export OPAL_SYSCONFDIR="$deps_prefix/etc/openmpi" OPAL_PKGDATADIR="$deps_usr/share/openmpi"
deps_cmake_args=(
  "-DCMAKE_PREFIX_PATH=$deps_usr;$deps_lib/cmake;$deps_usr/share/cmake"
  "-DMPI_CXX_COMPILER=$deps_usr/bin/mpicxx.openmpi" "-DMPI_C_COMPILER=$deps_usr/bin/mpicc.openmpi"
  "-DMPIEXEC_EXECUTABLE=$deps_usr/bin/mpirun.openmpi"
  "-DHDF5_ROOT=$deps_lib/hdf5/serial" "-DHDF5_C_INCLUDE_DIR=$deps_usr/include/hdf5/serial"
  "-DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON"
  "-DZLIB_ROOT=$deps_usr" "-DPKG_CONFIG_EXECUTABLE=$deps_usr/bin/pkgconf"
)
# Only the unpacked .pc files, their /usr paths moved under the prefix.
export PKG_CONFIG_LIBDIR="$deps_lib/pkgconfig:$deps_usr/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$deps_prefix"
echo "deps_env: $(ls "$deps_debs"/*.deb | wc -l) packages unpacked into $deps_prefix"
