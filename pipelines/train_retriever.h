// `llamarec train-retriever`: LRURec trained with data parallelism by the training loop
// (pipelines/training/trainer.h). This file is the task: the model and its AdamW groups, the loss
// over a rank's examples, validation (Recall@10 over the val users of all ranks) and the best
// checkpoint.
#pragma once
#include <torch/torch.h>

#include "pipelines/config.h"
#include "distributed/communicator.h"
#include "pipelines/training/trainer.h"

namespace llamarec {

// Trains and writes <retriever.checkpoint> (best by val Recall@10), <checkpoint>.state/ (resume),
// and <checkpoint>.curve.json (validation curve). Resumes when a state for the same config exists.
TrainingResult train_retriever(const Config& config, Communicator& comm);

// What a saved state must match to be resumed (training/run_identity.h), for a run computing on
// `device`: `retriever.device = auto` is recorded as the device it chose, so that a state saved on a
// GPU (whose dropout generator is the GPU's) does not continue on a CPU, nor one saved on the CPU
// under auto restart when the key is set to cpu. Limits, patience, the checkpoint cadence and the
// scoring batch may change between a run and its resumption; the dataset's content may not.
ConfigValues retriever_run_identity(const Config& config, torch::Device device);

}  // namespace llamarec
