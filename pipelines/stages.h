// The stage table: every pipeline stage once, with the communicator it runs on and the function
// that runs it. The CLI's stage subcommands and `llamarec run` are both built from it.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipelines/config.h"
#include "distributed/communicator.h"

namespace llamarec {

// Which collectives a stage needs.
enum class StageComm {
  kCpu,     // MPI on CPU tensors: the data stages and LRURec (on retriever.device = cuda it stages its
            // 1.5 MB of gradients through the host: distributed/data_parallel.h)
  kRanker,  // distributed.backend on distributed.device: NCCL for the Llama ranker on GPUs
};

// Per-invocation switches that are not part of the run's config.
struct StageArgs {
  bool force = false;          // preprocess: rebuild even when the dataset is up to date
  std::string split = "test";  // evaluate-ranker: test or val
};

struct Stage {
  std::string name;         // the subcommand and the name in `run --stages`
  std::string description;  // its --help line
  StageComm comm;
  // Config keys ("section." for a whole section) whose values, with those of the earlier stages,
  // determine its outputs: a finished stage is reused only under the same values (stage_record.h).
  std::vector<std::string> config_keys;
  std::function<void(const Config&, Communicator&, const StageArgs&)> run;
};

// Every stage in pipeline order.
const std::vector<Stage>& pipeline_stages();
std::vector<std::string> pipeline_stage_names();
// The stage called `name`; an unknown name is an error listing the stages.
const Stage& find_stage(const std::string& name);

// The communicator a stage of kind `comm` runs on. Collective over MPI_COMM_WORLD.
std::unique_ptr<Communicator> make_stage_communicator(StageComm comm, const Config& config);

}  // namespace llamarec
