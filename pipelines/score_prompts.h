// `llamarec score`: the ranker's raw numbers on a few evaluation prompts, for checking them against
// another implementation (launch/device/parity.py compares them with Hugging Face transformers +
// PEFT). For each of the first `users` users of the split's valid retrieval subset (candidates in
// retriever order): the prompt text and its token ids, the verbalizer's letter logits (fp32), and
// the label-only training loss of the same prompt with the answer letter and EOS appended.
//
// Every prompt runs alone (batch 1, no padding), as a reference implementation would run it. Every
// rank opens the whole dataset and runs the same prompts, so the sharded base works at any world
// size; rank 0 writes the file.
#pragma once
#include <string>

#include "distributed/communicator.h"
#include "pipelines/config.h"

namespace llamarec {

struct ScorePromptsOptions {
  std::string split = "test";  // test or val
  int64_t users = 8;           // the first this many users of the subset (0: all)
  // "" = the run's ranker.adapter; "none" = the base alone; else a PEFT adapter directory.
  std::string adapter;
  std::string output;  // JSON file (written atomically)
};

void run_score_prompts(const Config& config, Communicator& comm, const ScorePromptsOptions& options);

}  // namespace llamarec
