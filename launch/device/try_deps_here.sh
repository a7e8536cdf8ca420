#!/usr/bin/env bash
# Tries, on this (Debian) machine, the build the GPU machine will do from .device-deps/: in a private
# mount namespace where this system's own copies of those packages are hidden (empty folders and
# files mounted over them), so that anything found comes from the unpacked prefix. Configures into
# ${BUILD_DIR:-build-deps}, builds the targets given (default: test_core), and runs each test binary
# among them at 1 rank (test_core also at 2, under the unpacked mpirun) and the llamarec CLI's --help.
# Needs root (unshare -m).
#   bash launch/device/try_deps_here.sh [target ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export LLAMAREC_TRY_TARGETS="${*:-test_core}" LLAMAREC_ROOT="$root" BUILD_DIR="${BUILD_DIR:-$root/build-deps}"
exec unshare -m bash -euo pipefail -c '
mount --make-rprivate /
lib=/usr/lib/x86_64-linux-gnu
for d in $lib/openmpi $lib/pmix2 $lib/hdf5 /usr/include/hdf5 /usr/include/spdlog /usr/include/fmt \
  /usr/include/nlohmann /usr/include/CLI /usr/include/toml++ /usr/include/gtest /usr/include/gmock \
  $lib/cmake/GTest $lib/cmake/fmt $lib/cmake/spdlog $lib/cmake/tomlplusplus /usr/share/cmake/CLI11 \
  /usr/share/cmake/nlohmann_json /etc/openmpi /usr/share/openmpi; do
  [ -d "$d" ] && mount -t tmpfs none "$d"
done
for f in $lib/libmpi*.so* $lib/libopen-*.so* $lib/libhdf5*.so* $lib/libsentencepiece*.so* $lib/libspdlog*.so* \
  $lib/libfmt*.so* $lib/libgtest*.so* $lib/libgmock*.so* $lib/libpmix*.so* /usr/include/sentencepiece*.h \
  $lib/pkgconfig/tomlplusplus.pc $lib/pkgconfig/sentencepiece.pc /usr/bin/mpi* /usr/bin/orte* /usr/bin/orted; do
  [ -e "$f" ] && mount --bind /dev/null "$f"
done
cd "$LLAMAREC_ROOT"
export LLAMAREC_DEPS_ALL_LIBS=1
source launch/device/deps_env.sh "$LLAMAREC_ROOT/.device-deps"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMAREC_BUILD_BENCHMARKS=OFF \
  "-DCMAKE_PREFIX_PATH=$deps_prefix_path" "${deps_cmake_args[@]}" 2>&1 | grep -E "llamarec:|Found|Error|error" || true
cmake --build "$BUILD_DIR" -j "$(nproc)" --target $LLAMAREC_TRY_TARGETS
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
for t in $LLAMAREC_TRY_TARGETS; do
  case "$t" in
    test_*) echo "try_deps_here: $t"; "$BUILD_DIR/tests/$t" --gtest_brief=1 ;;
    llamarec) "$BUILD_DIR/llamarec" --help | head -3 ;;
  esac
done
if [[ " $LLAMAREC_TRY_TARGETS " == *" test_core "* ]]; then
  echo "try_deps_here: test_core under the unpacked mpirun at 2 ranks (orted and the plugins relocated)"
  mpirun --oversubscribe -np 2 "$BUILD_DIR/tests/test_core" --gtest_brief=1 2>&1 | grep -E "PASSED|FAILED|rror" | sort -u
fi
echo "try_deps_here: where the MPI library came from:"
ldd "$BUILD_DIR"/tests/test_core 2>/dev/null | grep -E "libmpi|libhdf5|libspdlog|libfmt" || true
'
