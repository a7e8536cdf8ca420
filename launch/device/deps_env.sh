# Sourced by launch/device/check.sh: unpacks the Debian packages of launch/device/fetch_deps.sh into
# $LLAMAREC_DEPS_PREFIX (default /tmp/llamarec-deps; dpkg-deb -x, not installed: the machine's own
# system stays as it is) and points the build and the run at them:
#   deps_prefix_path  CMAKE_PREFIX_PATH entries for the config packages there (fmt, spdlog, GTest, ...)
#   deps_cmake_args   CMake arguments that find MPI, HDF5, zlib and pkg-config's packages there
#   PATH, LD_LIBRARY_PATH, OPAL_*, PMIX_*   Open MPI (libraries, plugins, help files, orted) relocated there
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
# The loader path gets only the libraries this machine lacks (Open MPI, HDF5, ...): Debian's copies of
# what it has (libssl, libcurl, libzstd, ...) would otherwise shadow the ones its python, cmake and
# nvcc were built against. LLAMAREC_DEPS_ALL_LIBS=1 takes them all (try_deps_here.sh, where this
# system's own copies are hidden but still in ldconfig's cache).
deps_ld="$deps_prefix/ld"
mkdir -p "$deps_ld"
host_libs="$(ldconfig -p 2>/dev/null | awk '{print $1}' | sort -u)"
for lib in "$deps_lib"/*.so.* "$deps_lib"/openmpi/lib/*.so.*; do
  [ -e "$lib" ] || continue
  name="$(basename "$lib")"
  if [ -n "${LLAMAREC_DEPS_ALL_LIBS:-}" ] || ! grep -qxF "$name" <<<"$host_libs"; then ln -sfn "$lib" "$deps_ld/$name"; fi
done
export LD_LIBRARY_PATH="$deps_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Open MPI's install paths are relative to its prefix except sysconfdir; PMIx compiled its libdir and
# datadir in as absolute paths, so each is moved (plugins, help files).
export OPAL_PREFIX="$deps_usr" OPAL_SYSCONFDIR="$deps_prefix/etc/openmpi"
export PMIX_INSTALL_PREFIX="$deps_lib/pmix2" PMIX_LIBDIR="$deps_lib/pmix2/lib" PMIX_PKGLIBDIR="$deps_lib/pmix2/lib/pmix"
export PMIX_DATADIR="$deps_lib/pmix2/share" PMIX_PKGDATADIR="$deps_lib/pmix2/share/pmix"
deps_prefix_path="$deps_usr;$deps_lib/cmake;$deps_usr/share/cmake"  # for CMAKE_PREFIX_PATH, with LibTorch's
deps_cmake_args=(
  "-DMPI_CXX_COMPILER=$deps_usr/bin/mpicxx.openmpi" "-DMPI_C_COMPILER=$deps_usr/bin/mpicc.openmpi"
  "-DMPIEXEC_EXECUTABLE=$deps_usr/bin/mpirun.openmpi"
  "-DHDF5_ROOT=$deps_lib/hdf5/serial" "-DHDF5_C_INCLUDE_DIR=$deps_usr/include/hdf5/serial"
  "-DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON"
  "-DZLIB_ROOT=$deps_usr" "-DPKG_CONFIG_EXECUTABLE=$deps_usr/bin/pkgconf"
)
# Only the unpacked .pc files, their /usr paths moved under the prefix.
export PKG_CONFIG_LIBDIR="$deps_lib/pkgconfig:$deps_usr/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$deps_prefix"
echo "deps_env: $(ls "$deps_debs"/*.deb | wc -l) packages unpacked into $deps_prefix ($(ls "$deps_ld" | wc -l) libraries on the loader path)"
