#!/usr/bin/env bash
# Fetches, as Debian 12 packages, what the GPU machine lacks for the CUDA build (launch/device/check.sh):
# Open MPI, HDF5, TOML++, SentencePiece, nlohmann-json, CLI11, spdlog, fmt, GoogleTest and zlib's
# headers, with every shared library they load at run time (Open MPI's plugins and orted included),
# into .device-deps/ of the checkout (git-ignored; `run` carries it). That machine has no network and
# none of these; it has its own glibc and libstdc++ (newer than Debian 12's), which are left out.
# The runtime closure is read from the libraries installed here (launch/install_deps.sh), so it is
# exactly what our binaries load, not apt's much larger Depends tree. Run here, as root:
#   bash launch/device/fetch_deps.sh [dest]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${1:-$root/.device-deps}"
lib=/usr/lib/x86_64-linux-gnu
# Headers, CMake/pkg-config files and the compile-time wrappers.
dev=(libopenmpi-dev openmpi-common libhdf5-dev libtomlplusplus-dev libsentencepiece-dev nlohmann-json3-dev
  libcli11-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev zlib1g-dev libaec-dev pkgconf pkgconf-bin libpkgconf3)
# What the binaries and Open MPI's dlopen'ed plugins load.
objects=("$lib"/libmpi.so.40 "$lib"/libmpi_cxx.so.40 "$lib"/libhdf5_serial.so.103
  "$lib"/libhdf5_serial_hl.so.100 "$lib"/libsentencepiece.so.0 "$lib"/libsentencepiece_train.so.0
  "$lib"/libspdlog.so.1* "$lib"/libfmt.so.9 "$lib"/openmpi/lib/openmpi3/*.so "$lib"/pmix2/lib/pmix/*.so
  /usr/bin/orted /usr/bin/orterun)
# The GPU machine's own (newer) C and C++ runtime stays.
system='^(libc6|libstdc\+\+6|libgcc-s1|libcrypt1)$'

for f in "${objects[@]}"; do
  [ -e "$f" ] || { echo "fetch_deps: $f is missing here: run launch/install_deps.sh first" >&2; exit 1; }
done
packages=("${dev[@]}")
for path in $(for f in "${objects[@]}"; do
  realpath "$f"
  ldd "$f" | awk '/=> \//{print $3}' | xargs -r -n1 realpath
done | sort -u); do
  # Merged /usr: dpkg may know a library under /lib.
  owner="$(dpkg -S "$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null || true)"
  if [ -z "$owner" ]; then echo "fetch_deps: no package owns $path" >&2; exit 1; fi
  packages+=("${owner%%:*}")
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u | grep -Ev "$system")

rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
# As root, apt fetches as the _apt user, which needs to write the folder.
chmod 777 "$dest.tmp"
(cd "$dest.tmp" && apt-get download -qq "${packages[@]}")
# The parity check's random Llama uses the real Llama 2 tokenizer (vocabulary 32,000); ../shared does
# not travel, so a copy goes into the carried folder (never into the repository: its license).
shared_tokenizer="$root/../shared/models/llama2-tokenizer/tokenizer.model"
if [ -f "$shared_tokenizer" ]; then cp "$shared_tokenizer" "$dest.tmp/tokenizer.model"; fi
# The retriever's GPU speed is measured on ml-latest-small (the same carried-only rule).
shared_ratings="$root/../shared/data/ml-latest-small"
if [ -f "$shared_ratings/ratings.csv" ]; then
  mkdir -p "$dest.tmp/ml-latest-small"
  cp "$shared_ratings/ratings.csv" "$shared_ratings/movies.csv" "$dest.tmp/ml-latest-small/"
fi
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "fetch_deps: ${#packages[@]} packages, $(du -sh "$dest" | cut -f1) in $dest"
