// Typed run configuration loaded from TOML (TOML++). Every key has a documented default (see
// configs/README or `llamarec config --defaults`); unknown keys, wrong types and invalid values
// are errors naming the file and the key. `--set section.key=value` overrides on the command line.
//
// Adding a key: add the member with its default to its section struct and one line to the
// section's visit(); validation goes into validate_config() in config.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace llamarec {

// A key's description, shown by `llamarec config --defaults` and in the saved effective config.
struct RunConfig {
  std::string dir = "runs/demo";
  int64_t seed = 42;
  int64_t threads = 0;
  std::string log_level = "info";
  bool log_all_ranks = false;

  template <class V>
  void visit(V& v) {
    v("dir", dir, "run directory: every stage reads and writes its files here");
    v("seed", seed, "global random seed (shuffling, initialisation, synthetic data, negatives)");
    v("threads", threads, "LibTorch threads per rank; 0 = cores / ranks on this node (at least 1)");
    v("log_level", log_level, "trace, debug, info, warn or error");
    v("log_all_ranks", log_all_ranks, "log info lines from every rank, not only rank 0");
  }
};

struct DataConfig {
  std::string format = "synthetic";
  std::string input;
  std::string meta;
  std::string dataset = "dataset.h5";
  int64_t min_user_count = 5;
  int64_t min_item_count = 5;
  double min_rating = 0.0;
  int64_t synthetic_users = 2000;
  int64_t synthetic_items = 800;
  int64_t synthetic_min_length = 8;
  int64_t synthetic_max_length = 60;

  template <class V>
  void visit(V& v) {
    v("format", format, "raw dataset format: movielens, amazon, recbole or synthetic");
    v("input", input,
      "raw data: MovieLens folder (ratings.csv+movies.csv, ratings.dat+movies.dat or u.data+u.item); "
      "Amazon ratings CSV; RecBole folder or NAME.inter file");
    v("meta", meta, "Amazon metadata (.json or .json.gz, one record per line); RecBole .item file if not beside .inter");
    v("dataset", dataset, "preprocessed HDF5 dataset (relative paths are inside run.dir)");
    v("min_user_count", min_user_count, "k-core: keep users with at least this many interactions");
    v("min_item_count", min_item_count, "k-core: keep items with at least this many interactions");
    v("min_rating", min_rating, "drop interactions rated below this (0 keeps all, as LlamaRec)");
    v("synthetic_users", synthetic_users, "synthetic format: number of users");
    v("synthetic_items", synthetic_items, "synthetic format: number of items");
    v("synthetic_min_length", synthetic_min_length, "synthetic format: shortest user sequence");
    v("synthetic_max_length", synthetic_max_length, "synthetic format: longest user sequence");
  }
};

struct RetrieverConfig {
  int64_t max_len = 200;
  int64_t hidden = 64;
  int64_t num_blocks = 2;
  double dropout = 0.2;
  double attn_dropout = 0.2;
  std::string scan = "fused";
  int64_t batch_size = 16;
  double lr = 1e-3;
  double weight_decay = 0.01;
  double adam_eps = 1e-9;
  double clip_grad_norm = 5.0;
  int64_t max_epochs = 500;
  int64_t max_iterations = 0;
  int64_t val_interval = 500;
  int64_t patience = 20;
  bool val_exclude_history = true;
  int64_t eval_batch_size = 128;
  std::string checkpoint = "retriever.safetensors";

  template <class V>
  void visit(V& v) {
    v("max_len", max_len, "input window: 200 for MovieLens, 50 for Amazon (spec 2.2)");
    v("hidden", hidden, "LRURec embedding size D (complex state 2D)");
    v("num_blocks", num_blocks, "number of LRU blocks");
    v("dropout", dropout, "dropout after the embedding and in the FFN (paper grid 0.1-0.5)");
    v("attn_dropout", attn_dropout, "dropout on the LRU layer output");
    v("scan", scan, "linear-recurrence kernel: fused (CPU, fastest) or parallel (reference log-depth scan)");
    v("batch_size", batch_size, "global training batch (split across ranks): 16 for ML, 64 for Amazon");
    v("lr", lr, "AdamW learning rate");
    v("weight_decay", weight_decay, "AdamW weight decay (not on biases and LayerNorms)");
    v("adam_eps", adam_eps, "AdamW epsilon");
    v("clip_grad_norm", clip_grad_norm, "global gradient-norm clip (0 = off)");
    v("max_epochs", max_epochs, "upper bound on epochs");
    v("max_iterations", max_iterations, "stop after this many iterations (0 = no limit)");
    v("val_interval", val_interval, "validate every this many iterations (and at iteration 0)");
    v("patience", patience, "early stopping: validations without a better Recall@10");
    v("val_exclude_history", val_exclude_history,
      "mask the input window's items when validating (LRURec does; LlamaRec's validation does not)");
    v("eval_batch_size", eval_batch_size, "users per scoring batch in validation and retrieval");
    v("checkpoint", checkpoint, "best model (safetensors + .json config; relative paths are inside run.dir)");
  }
};

struct RetrievalConfig {
  int64_t top_k = 20;
  std::string candidates = "candidates.h5";

  template <class V>
  void visit(V& v) {
    v("top_k", top_k, "candidates kept per user (the ranker's pool; LlamaRec uses 20)");
    v("candidates", candidates, "output of `retrieve` (relative paths are inside run.dir)");
  }
};

struct EvalConfig {
  std::string metrics = "metrics.json";

  template <class V>
  void visit(V& v) {
    v("metrics", metrics, "metrics file, one entry per stage (relative paths are inside run.dir)");
  }
};

struct DistributedConfig {
  std::string backend = "auto";
  std::string device = "auto";

  template <class V>
  void visit(V& v) {
    v("backend", backend, "collective backend: auto (nccl for CUDA tensors, else mpi), mpi or nccl");
    v("device", device, "compute device: auto (cuda if available), cpu or cuda");
  }
};

struct Config {
  std::string source = "<defaults>";  // the file it came from, for error messages
  RunConfig run;
  DataConfig data;
  RetrieverConfig retriever;
  RetrievalConfig retrieval;
  EvalConfig eval;
  DistributedConfig distributed;

  template <class V>
  void visit_sections(V& v) {
    v.section("run", run);
    v.section("data", data);
    v.section("retriever", retriever);
    v.section("retrieval", retrieval);
    v.section("eval", eval);
    v.section("distributed", distributed);
  }

  // A path from the config: absolute as given, relative ones inside run.dir.
  std::string in_run_dir(const std::string& path) const;
};

// Loads `path` (empty: built-in defaults) and applies `overrides` ("section.key=value", in order).
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The effective config as TOML, with every key and its description as a comment.
std::string config_to_toml(const Config& config);

// Writes the effective config to `path` atomically (temp file + rename).
void save_config(const Config& config, const std::string& path);

}  // namespace llamarec
