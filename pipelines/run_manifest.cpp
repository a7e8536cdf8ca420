#include "pipelines/run_manifest.h"

#include <torch/version.h>

#include <chrono>
#include <filesystem>

#include "core/content_hash.h"
#include "core/hdf5_file.h"
#include "distributed/cuda/nccl_ops.h"
#include "pipelines/input_files.h"

#ifndef LLAMAREC_GIT_COMMIT
#define LLAMAREC_GIT_COMMIT "unknown"
#endif

namespace fs = std::filesystem;

namespace llamarec {
namespace {

void add_input(nlohmann::json& inputs, const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    inputs[path] = describe_input_file(path);
  } else if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.is_regular_file()) inputs[entry.path().string()] = describe_input_file(entry.path().string());
    }
  }
}

}  // namespace

nlohmann::json run_manifest(const Config& config, const MpiContext& mpi, int threads, const std::string& stage) {
  nlohmann::json inputs = nlohmann::json::object();
  add_input(inputs, config.data.input);
  add_input(inputs, config.data.meta);
  // After preprocessing, the files the later stages read, as they are when this one starts.
  if (stage != "preprocess") {
    add_input(inputs, config.in_run_dir(config.data.dataset));
    add_input(inputs, config.in_run_dir(config.retrieval.candidates));
    for (const auto& file : ranker_base_files(config)) add_input(inputs, file.path);
  }
  nlohmann::json versions = {{"libtorch", TORCH_VERSION},
                             {"mpi", MpiContext::library_version()},
                             {"hdf5", hdf5_library_version()},
                             {"compiler", __VERSION__}};
#ifdef LLAMAREC_WITH_NCCL
  const int nccl = nccl::version();
  versions["nccl"] = fmt::format("{}.{}.{}", nccl / 10000, nccl / 100 % 100, nccl % 100);
#else
  versions["nccl"] = "not built";
#endif
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {{"git_commit", build_commit()},
          {"config_fnv1a64", content_digest(content_hash(config_to_toml(config)))},
          {"config_file", config.source},
          {"inputs", inputs},
          {"world_size", mpi.size()},
          {"ranks_per_node", mpi.local_size()},
          {"threads_per_rank", threads},
          {"versions", versions},
          {"unix_time", std::chrono::duration_cast<std::chrono::seconds>(now).count()}};
}

const char* build_commit() { return LLAMAREC_GIT_COMMIT; }

}  // namespace llamarec
