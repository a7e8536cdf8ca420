// `llamarec train-retriever`: LRURec trained with data parallelism by the training loop
// (pipelines/training/trainer.h). This file is the task: the model and its AdamW groups, the loss
// over a rank's examples, validation (Recall@10 over the val users of all ranks) and the best
// checkpoint.
#pragma once
#include "pipelines/config.h"
#include "distributed/communicator.h"
#include "pipelines/training/trainer.h"

namespace llamarec {

// Trains and writes <retriever.checkpoint> (best by val Recall@10), <checkpoint>.state/ (resume),
// and <checkpoint>.curve.json (validation curve). Resumes when a state for the same config exists.
TrainingResult train_retriever(const Config& config, Communicator& comm);

}  // namespace llamarec
