#include "pipelines/stages.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "pipelines/compute_device.h"
#include "pipelines/evaluate_ranker.h"
#include "pipelines/preprocess.h"
#include "pipelines/ranker_setup.h"
#include "pipelines/retrieve.h"
#include "pipelines/train_ranker.h"
#include "pipelines/train_retriever.h"

namespace llamarec {
namespace {

// One writer: preprocessing is cheap next to training and its output is one file.
void preprocess_stage(const Config& config, Communicator& comm, const StageArgs& args) {
  if (comm.rank() == 0) {
    const auto options = preprocess_options(config);
    if (!args.force && preprocess_output_current(options)) {
      spdlog::info("{} is up to date (use --force to rebuild)", options.output);
    } else {
      run_preprocess(options);
    }
  }
  comm.barrier();
}

}  // namespace

const std::vector<Stage>& pipeline_stages() {
  static const std::vector<Stage> stages = {
      {"preprocess",
       "import a raw dataset (movielens, amazon, recbole, synthetic) into an HDF5 sequence dataset",
       StageComm::kCpu,
       {"data.", "run.seed"},
       preprocess_stage},
      {"train-retriever",
       "train LRURec with data parallelism (gradients all-reduced across ranks)",
       StageComm::kCpu,
       {"retriever."},
       [](const Config& c, Communicator& comm, const StageArgs&) { train_retriever(c, comm); }},
      {"retrieve",
       "score all items for every user and keep the top-k candidates (and for every training prefix with "
       "ranker.train_order retriever or mix)",
       StageComm::kCpu,
       {"retrieval.", "ranker.train_order"},
       [](const Config& c, Communicator& comm, const StageArgs&) { run_retrieve(c, comm); }},
      {"evaluate-retriever",
       "exact distributed evaluation of the retriever; writes metrics.json",
       StageComm::kCpu,
       {"eval."},
       [](const Config& c, Communicator& comm, const StageArgs&) { run_evaluate_retriever(c, comm); }},
      {"train-ranker",
       "LoRA-tune the Llama ranker, base weights sharded FSDP-style across ranks (MPI or NCCL)",
       StageComm::kRanker,
       {"ranker.", "lora.", "builtin_llama."},
       [](const Config& c, Communicator& comm, const StageArgs&) { train_ranker(c, comm); }},
      {"evaluate-ranker",
       "rank the retriever's candidates with the trained ranker; writes metrics.json",
       StageComm::kRanker,
       {"ranker.permutations", "ranker.calibrate", "ranker.fuse_retriever"},
       [](const Config& c, Communicator& comm, const StageArgs& args) { run_evaluate_ranker(c, comm, args.split); }},
  };
  return stages;
}

std::vector<std::string> pipeline_stage_names() {
  std::vector<std::string> names;
  for (const auto& s : pipeline_stages()) names.push_back(s.name);
  return names;
}

const Stage& find_stage(const std::string& name) {
  for (const auto& s : pipeline_stages()) {
    if (s.name == name) return s;
  }
  fail("unknown stage '{}' (stages: {})", name, fmt::join(pipeline_stage_names(), ", "));
}

std::unique_ptr<Communicator> make_stage_communicator(StageComm comm, const Config& config) {
  if (comm == StageComm::kCpu) return make_communicator("mpi", torch::kCPU);
  return make_communicator(enum_name(config.distributed.backend), ranker_device(config),
                           std::chrono::seconds(config.distributed.timeout_s));
}

}  // namespace llamarec
