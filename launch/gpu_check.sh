#!/usr/bin/env bash
# GPU check of the NCCL communicator, for a machine with one NVIDIA GPU (the H200 device machine).
# Usage, from anywhere: bash launch/gpu_check.sh [build-dir]   (default: build-gpu in the checkout)
#
# Expects:
#   - python3 whose torch is a CUDA build (pip); its LibTorch (torch.utils.cmake_prefix_path) is what
#     gets built against. Without one the script says so and exits 0: there is nothing to check.
#   - the CUDA toolkit (cudart + headers; CUDA_HOME, else /usr/local/cuda), CMake >= 3.22, ninja.
#   - NCCL: nccl.h + libnccl under NCCL_HOME or CUDA_HOME, else the nvidia-nccl-cu* wheel that pip's
#     torch depends on (its lib/ has only libnccl.so.2, so the paths are passed to CMake here).
#   - the CPU build's other dependencies (Open MPI, HDF5, TOML++, SentencePiece, nlohmann-json, CLI11,
#     spdlog, fmt, GoogleTest: launch/install_deps.sh), built with the same C++ ABI as that torch;
#     CMake names any that is missing.
# Builds test_distributed only and runs the NCCL tests (NcclOps, NcclCommunicator) and the MPI
# communicator tests at world size 1: NCCL cannot put two ranks on one GPU, so multi-rank NCCL
# needs a multi-GPU machine (mpirun -np <gpus> test_distributed --gtest_filter='Nccl*').
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-gpu}"

if ! torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)"; then
  echo "gpu_check: python3 has no torch, so there is no CUDA LibTorch to build against; nothing checked."
  exit 0
fi
torch_info="$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.compiled_with_cxx11_abi())')"
read -r torch_version torch_cuda cuda_ok cxx11_abi <<<"$torch_info"
echo "gpu_check: torch $torch_version (CUDA $torch_cuda, GPU visible: $cuda_ok, CXX11 ABI: $cxx11_abi) at $torch_prefix"
if [ "$torch_cuda" = "None" ]; then
  echo "gpu_check: this torch is CPU-only; nothing checked."
  exit 0
fi
if [ "$cuda_ok" != "True" ]; then
  echo "gpu_check: torch sees no GPU; the NcclCommunicator tests would only skip." >&2
  exit 1
fi
nvidia-smi -L || true

cuda_home="${CUDA_HOME:-/usr/local/cuda}"
cmake_args=(-DCMAKE_PREFIX_PATH="$torch_prefix" -DLLAMAREC_CUDA=ON -DLLAMAREC_BUILD_BENCHMARKS=OFF)
if [ -x "$cuda_home/bin/nvcc" ]; then
  cmake_args+=(-DCMAKE_CUDA_COMPILER="$cuda_home/bin/nvcc" -DCUDAToolkit_ROOT="$cuda_home")
fi
if [ ! -f "${NCCL_HOME:-$cuda_home}/include/nccl.h" ]; then
  nccl_dir="$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)"
  nccl_lib="$(ls "$nccl_dir"/lib/libnccl.so* 2>/dev/null | head -n 1 || true)"
  if [ -z "$nccl_dir" ] || [ ! -f "$nccl_dir/include/nccl.h" ] || [ -z "$nccl_lib" ]; then
    echo "gpu_check: no NCCL found (set NCCL_HOME, or install the nvidia-nccl wheel)" >&2
    exit 1
  fi
  echo "gpu_check: NCCL from the wheel at $nccl_dir"
  cmake_args+=(-DLLAMAREC_NCCL_INCLUDE="$nccl_dir/include" -DLLAMAREC_NCCL_LIB="$nccl_lib")
  export LD_LIBRARY_PATH="$nccl_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

configure_log="$(mktemp)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}" | tee "$configure_log"
if ! grep -q "CUDA LibTorch ON" "$configure_log"; then
  echo "gpu_check: CMake did not detect a CUDA LibTorch with NCCL (see the 'llamarec:' line above)" >&2
  exit 1
fi
cmake --build "$build" --target test_distributed -j "$(nproc)"

export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
test_log="$(mktemp)"
"$build/tests/test_distributed" --gtest_filter='Nccl*:CommunicatorMpi*:FsdpLlama*' 2>&1 | tee "$test_log"
if grep -q "SKIPPED.*NcclCommunicator" "$test_log"; then
  echo "gpu_check: the NcclCommunicator tests skipped (see above), so NCCL was not checked" >&2
  exit 1
fi
echo "gpu_check: NCCL communicator tests passed at world size 1"
