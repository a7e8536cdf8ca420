# One interface target carries every dependency and flag, so that all targets compile with the same
# flags and can share a single precompiled LibTorch header (REUSE_FROM needs identical flags).
add_library(llamarec_flags INTERFACE)
target_include_directories(llamarec_flags INTERFACE ${PROJECT_SOURCE_DIR})
target_compile_options(llamarec_flags INTERFACE -Wall -Wextra -Wno-unused-parameter)
target_link_libraries(llamarec_flags INTERFACE
  ${TORCH_LIBRARIES} MPI::MPI_CXX HDF5::HDF5 nlohmann_json::nlohmann_json CLI11::CLI11
  spdlog::spdlog fmt::fmt PkgConfig::TOMLPP Threads::Threads)
target_compile_options(llamarec_flags INTERFACE ${TORCH_CXX_FLAGS})
# LibTorch 2.x ships its own {fmt} headers (fmt 12) under its include/, which comes first on the
# command line; spdlog and libfmt are built against the system's fmt. A plain -I to a folder that
# holds only the system's fmt puts it before every -isystem.
if(Torch_VERSION VERSION_GREATER_EQUAL 2 AND EXISTS "${TORCH_INSTALL_PREFIX}/include/fmt")
  get_target_property(_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
  if(NOT _fmt_include)
    message(FATAL_ERROR "llamarec: LibTorch ${Torch_VERSION} bundles {fmt}, and fmt::fmt names no include directory to put first")
  endif()
  list(GET _fmt_include 0 _fmt_include)
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/fmt_first)
  file(CREATE_LINK ${_fmt_include}/fmt ${PROJECT_BINARY_DIR}/fmt_first/fmt SYMBOLIC)
  target_include_directories(llamarec_flags BEFORE INTERFACE ${PROJECT_BINARY_DIR}/fmt_first)
  message(STATUS "llamarec: LibTorch ${Torch_VERSION} bundles {fmt}; ${_fmt_include}/fmt comes first")
endif()
if(LLAMAREC_WITH_NCCL)
  target_compile_definitions(llamarec_flags INTERFACE LLAMAREC_WITH_NCCL=1)
endif()
if(LLAMAREC_TORCH_CUDA)
  target_compile_definitions(llamarec_flags INTERFACE LLAMAREC_TORCH_CUDA=1)
endif()

# Sanitizers go on the shared flags, so that every target (and the shared PCH) has them. vptr is off:
# LibTorch's classes come from a library built without it. Leaks are not checked (tests run with
# detect_leaks=0): LibTorch and Open MPI keep process-lifetime allocations.
if(LLAMAREC_SANITIZE OR LLAMAREC_FUZZ)
  set(_sanitizers -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined)
  target_compile_options(llamarec_flags INTERFACE ${_sanitizers} -fno-omit-frame-pointer)
  target_link_options(llamarec_flags INTERFACE ${_sanitizers})
endif()
if(LLAMAREC_FUZZ)
  target_compile_options(llamarec_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()

# LibTorch headers cost ~20 s per translation unit; compile them once.
add_library(llamarec_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch_stub.cpp)
target_link_libraries(llamarec_pch PUBLIC llamarec_flags)
target_precompile_headers(llamarec_pch PRIVATE ${PROJECT_SOURCE_DIR}/core/torch_pch.h)

# llamarec_target(<name>): apply the shared flags and the shared precompiled header.
function(llamarec_target name)
  target_link_libraries(${name} PUBLIC llamarec_flags)
  target_precompile_headers(${name} REUSE_FROM llamarec_pch)
endfunction()

# llamarec_folder_library(<name> <folder>): one static library per top-level folder; sources are
# globbed so that adding a file needs no CMake edit.
function(llamarec_folder_library name folder)
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.cpp)
  # cuda/ holds NCCL/CUDA-only sources, *_shim/ plugins built as separate modules.
  list(FILTER _srcs EXCLUDE REGEX ".*/(cuda|[a-z_]*_shim)/.*")
  # The stub keeps a folder with no sources yet a valid library.
  add_library(${name} STATIC ${_srcs} ${PROJECT_SOURCE_DIR}/cmake/pch_stub.cpp)
  llamarec_target(${name})
endfunction()
