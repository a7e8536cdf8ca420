// candidates.h5: the retriever's top-k per user for the val and test inputs (design §4).
//   /val/user [U] int64 global user index (0-based, dataset order)   /test/user  [U]
//   /val/items [U, k] int64 item ids, best first                      /test/items [U, k]
//   /val/scores [U, k] float32 retriever scores                       /test/scores [U, k]
//   /val/label [U] int64 the held-out item                            /test/label [U]
//   root attributes: schema_version, k, num_users, num_items, dataset, retriever checkpoint,
//   plus the exact full-ranking retriever metrics of each split ("val_Recall@10", ...).
// Optional (ranker.train_order retriever or mix), one row per training prefix in (user, prefix) order:
//   /train/user [P], /train/history_end [P] (the prefix: the user's train items[:history_end]),
//   /train/items [P, k], /train/scores [P, k], /train/label [P] (train items[history_end]).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "core/hdf5_file.h"

namespace llamarec {

struct CandidateSplit {
  torch::Tensor user;         // [U] int64
  torch::Tensor items;        // [U, k] int64
  torch::Tensor scores;       // [U, k] float32
  torch::Tensor label;        // [U] int64
  torch::Tensor history_end;  // train only: [U] int64, the prefix length
};

struct Candidates {
  int64_t k = 0;
  int64_t num_users = 0;
  int64_t num_items = 0;
  CandidateSplit val;
  CandidateSplit test;
  CandidateSplit train;  // empty (undefined tensors) unless the file has /train
  bool has_train() const { return train.user.defined(); }
  H5Attributes attributes;  // provenance and metrics
};

// Atomic write (temp file + rename).
void write_candidates(const std::string& path, const Candidates& candidates);
// Errors name the file (missing, not HDF5, wrong schema, inconsistent shapes).
Candidates read_candidates(const std::string& path);

}  // namespace llamarec
