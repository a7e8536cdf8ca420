#!/usr/bin/env bash
# Installs the Debian 12 packages llamarec needs (only those missing). Needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread          # LibTorch 1.13 CPU; OpenBLAS instead of reference BLAS (~20x)
  libopenmpi-dev openmpi-bin                 # MPI launcher + collectives for CPU tensors
  libhdf5-dev zlib1g-dev                     # datasets; .json.gz metadata
  libtomlplusplus-dev libsentencepiece-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  clang-format                               # launch/format.sh --check (CI)
  clang libclang-rt-14-dev                   # launch/sanitize.sh: ASan + UBSan, libFuzzer
  procps                                     # pgrep/pkill: the kill-and-resume and failing-rank tests
  gnuplot-nox                                # llamarec report: the PNG plots
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
