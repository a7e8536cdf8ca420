// `llamarec train-ranker`: LlamaRec's ranker, LoRA on a Llama whose frozen base is sharded
// FSDP-style over the ranks (distributed/fsdp_llama.h), trained by the training loop
// (pipelines/training/trainer.h). This file is the task: the adapter and its AdamW, the loss on the
// answer letter and EOS only, the zero-weight step that keeps the sharded layers' gathers matched,
// validation (NDCG@10 on the val subset) and the best adapter in PEFT format.
#pragma once
#include "pipelines/config.h"
#include "distributed/communicator.h"
#include "pipelines/training/trainer.h"

namespace llamarec {

// Writes <ranker.adapter>/ (best by val NDCG@10, PEFT format), <adapter>.state/ (resume) and
// <adapter>.curve.json. Resumes when a state for the same config exists.
TrainingResult train_ranker(const Config& config, Communicator& comm);

// What a saved state must match to be resumed (training/run_identity.h): the ranker and LoRA
// settings, the seed and the inputs (dataset, candidates, the base's config, weights and tokenizer).
// Limits and evaluation settings may change between a run and its resumption. Call it once the base
// exists (the built-in one is made by the task).
ConfigValues ranker_run_identity(const Config& config);

}  // namespace llamarec
