# Every dependency comes from Debian packages (see launch/install_deps.sh); a CUDA LibTorch can be
# put first on CMAKE_PREFIX_PATH for GPU builds.
find_package(Torch REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(Threads REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
# Debian's libsentencepiece embeds and exports its own protobuf-lite, which clashes with the
# libprotobuf that LibTorch loads (segfault at start-up). It is therefore only linked into a small
# plugin (core/sentencepiece_shim) that the tokenizer dlopens with RTLD_DEEPBIND.
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)

# --- CUDA / NCCL (optional) --------------------------------------------------------------------
# The NCCL calls live in a translation unit that needs only nccl.h + cuda_runtime.h, so that they
# compile and link on CPU-only CI machines that have the CUDA toolkit (they cannot rot unnoticed).
# The torch-stream glue needs a CUDA LibTorch and is built only with one.
set(LLAMAREC_CUDA "AUTO" CACHE STRING "Build the NCCL backend: ON, OFF or AUTO (on when nccl.h + cudart are found)")
set_property(CACHE LLAMAREC_CUDA PROPERTY STRINGS AUTO ON OFF)
set(_cuda_hints $ENV{CUDA_HOME} $ENV{CUDA_PATH} /usr/local/cuda)
set(_nccl_hints $ENV{NCCL_HOME} $ENV{NCCL_ROOT} ${_cuda_hints})
find_path(LLAMAREC_CUDART_INCLUDE cuda_runtime.h HINTS ${_cuda_hints} PATH_SUFFIXES include targets/x86_64-linux/include)
find_library(LLAMAREC_CUDART_LIB cudart HINTS ${_cuda_hints} PATH_SUFFIXES lib64 lib targets/x86_64-linux/lib)
find_path(LLAMAREC_NCCL_INCLUDE nccl.h HINTS ${_nccl_hints} PATH_SUFFIXES include)
find_library(LLAMAREC_NCCL_LIB nccl HINTS ${_nccl_hints} PATH_SUFFIXES lib64 lib)

set(LLAMAREC_WITH_NCCL OFF)
if(NOT LLAMAREC_CUDA STREQUAL "OFF")
  if(LLAMAREC_CUDART_INCLUDE AND LLAMAREC_CUDART_LIB AND LLAMAREC_NCCL_INCLUDE AND LLAMAREC_NCCL_LIB)
    set(LLAMAREC_WITH_NCCL ON)
  elseif(LLAMAREC_CUDA STREQUAL "ON")
    message(FATAL_ERROR "LLAMAREC_CUDA=ON but CUDA runtime / NCCL were not found (set CUDA_HOME / NCCL_HOME)")
  endif()
endif()

# A CUDA LibTorch sets TORCH_CUDA_LIBRARIES / CAFFE2_USE_CUDA; Debian's CPU package ships CUDA
# headers but no CUDA libraries, so header checks cannot tell.
set(LLAMAREC_TORCH_CUDA OFF)
if(LLAMAREC_WITH_NCCL AND (TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA))
  set(LLAMAREC_TORCH_CUDA ON)
endif()
message(STATUS "llamarec: NCCL backend ${LLAMAREC_WITH_NCCL} (nccl: ${LLAMAREC_NCCL_LIB}), CUDA LibTorch ${LLAMAREC_TORCH_CUDA}")
