// Typed run configuration loaded from TOML (TOML++). Every key has one documented default (`llamarec
// config` prints them all); unknown keys, wrong types and invalid values are errors naming the file
// and the key. `--set section.key=value` overrides on the command line. Enum-like keys are parsed
// into enums here, once (ConfigEnum below); the model sections hold the models' own config structs,
// so their defaults are written once, in models/.
//
// Adding a key: add the member with its default to its section struct and one line to the
// section's visit(); validation goes into validate_config() in config.cpp.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "distributed/communicator.h"
#include "models/llama_rope.h"
#include "core/text_encoding.h"
#include "models/lora_config.h"
#include "models/lru_config.h"
#include "models/nf4.h"
#include "pipelines/training/lr_schedule.h"

namespace llamarec {

enum class ComputeDtype { kAuto, kFloat32, kBFloat16 };
enum class LetterIds { kNewline, kDummyPrefix };
enum class CandidateOrderChoice { kRetriever, kShuffled };
enum class TrainOrderChoice { kRandom, kRetriever, kMix };
enum class CollectiveBackend { kAuto, kMpi, kNccl };
enum class DeviceChoice { kAuto, kCpu, kCuda };
// TextEncoding: core/text_encoding.h

// The TOML spelling of each value of an enum-valued key.
template <class E>
struct ConfigEnum;
#define LLAMAREC_CONFIG_ENUM(Enum, ...)                                                  \
  template <>                                                                            \
  struct ConfigEnum<Enum> {                                                              \
    static inline const std::vector<std::pair<Enum, std::string>> names = {__VA_ARGS__}; \
  }
LLAMAREC_CONFIG_ENUM(LruScan, {LruScan::kFused, "fused"}, {LruScan::kParallel, "parallel"});
LLAMAREC_CONFIG_ENUM(PositionMode, {PositionMode::kArange, "arange"}, {PositionMode::kFromMask, "from_mask"});
LLAMAREC_CONFIG_ENUM(ComputeDtype, {ComputeDtype::kAuto, "auto"}, {ComputeDtype::kFloat32, "float32"},
                     {ComputeDtype::kBFloat16, "bfloat16"});
LLAMAREC_CONFIG_ENUM(LetterIds, {LetterIds::kNewline, "newline"}, {LetterIds::kDummyPrefix, "dummy_prefix"});
LLAMAREC_CONFIG_ENUM(CandidateOrderChoice, {CandidateOrderChoice::kRetriever, "retriever"},
                     {CandidateOrderChoice::kShuffled, "shuffled"});
LLAMAREC_CONFIG_ENUM(TrainOrderChoice, {TrainOrderChoice::kRandom, "random"},
                     {TrainOrderChoice::kRetriever, "retriever"}, {TrainOrderChoice::kMix, "mix"});
LLAMAREC_CONFIG_ENUM(CollectiveBackend, {CollectiveBackend::kAuto, "auto"}, {CollectiveBackend::kMpi, "mpi"},
                     {CollectiveBackend::kNccl, "nccl"});
LLAMAREC_CONFIG_ENUM(TextEncoding, {TextEncoding::kAuto, "auto"}, {TextEncoding::kUtf8, "utf-8"},
                     {TextEncoding::kLatin1, "latin-1"});
LLAMAREC_CONFIG_ENUM(WeightQuantization, {WeightQuantization::kNone, "none"}, {WeightQuantization::kNf4, "nf4"});
LLAMAREC_CONFIG_ENUM(LrScheduleKind, {LrScheduleKind::kConstant, "constant"},
                     {LrScheduleKind::kLinearWarmupDecay, "linear"}, {LrScheduleKind::kCosineWarmupDecay, "cosine"});
LLAMAREC_CONFIG_ENUM(DeviceChoice, {DeviceChoice::kAuto, "auto"}, {DeviceChoice::kCpu, "cpu"},
                     {DeviceChoice::kCuda, "cuda"});
#undef LLAMAREC_CONFIG_ENUM

template <class E>
const std::string& enum_name(E value) {
  for (const auto& [v, name] : ConfigEnum<E>::names) {
    if (v == value) return name;
  }
  static const std::string unknown = "?";
  return unknown;
}
template <class E>
std::optional<E> parse_enum(const std::string& name) {
  for (const auto& [v, n] : ConfigEnum<E>::names) {
    if (n == name) return v;
  }
  return std::nullopt;
}
// "a, b or c"
template <class E>
std::string enum_choices() {
  std::string out;
  const auto& names = ConfigEnum<E>::names;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i].second;
  return out;
}

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
    v("threads", threads,
      "LibTorch threads per rank; 0 = the rank's usable CPUs / the node's ranks that share them (at least 1)");
    v("log_level", log_level, "trace, debug, info, warn or error");
    v("log_all_ranks", log_all_ranks, "log info lines from every rank, not only rank 0");
  }
};

struct DataConfig {
  std::string format = "synthetic";
  std::string input;
  std::string meta;
  TextEncoding encoding = TextEncoding::kAuto;
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
    v("meta", meta,
      "Amazon metadata (.json or .json.gz, one record per line); RecBole .item file if not beside .inter");
    v("encoding", encoding,
      "text of the raw files: auto (UTF-8 where valid, else Latin-1), utf-8 (reject anything else) or latin-1");
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
  LruConfig model;  // hidden, num_blocks, dropout, attn_dropout, scan (num_items comes from the dataset)
  int64_t batch_size = 16;
  double lr = 1e-3;
  LrScheduleKind lr_schedule = LrScheduleKind::kConstant;
  int64_t warmup_steps = 0;
  double weight_decay = 0.01;
  double adam_eps = 1e-9;
  double clip_grad_norm = 5.0;
  int64_t epochs = 500;
  int64_t max_steps = 0;
  int64_t val_interval = 500;
  int64_t patience = 20;
  std::string select_on = "Recall@10";
  double average_decay = 0;
  int64_t checkpoint_interval = 100;
  int64_t max_bad_steps = 5;
  bool val_exclude_history = true;
  int64_t eval_batch_size = 128;
  DeviceChoice device = DeviceChoice::kCpu;
  std::string checkpoint = "retriever.safetensors";

  template <class V>
  void visit(V& v) {
    v("max_len", max_len, "input window: 200 for MovieLens, 50 for Amazon (docs/llamarec.md)");
    v("hidden", model.hidden, "LRURec embedding size D (complex state 2D)");
    v("num_blocks", model.num_blocks, "number of LRU blocks");
    v("dropout", model.dropout, "dropout after the embedding and in the FFN (paper grid 0.1-0.5)");
    v("attn_dropout", model.attn_dropout, "dropout on the LRU layer output");
    v("scan", model.scan, "linear-recurrence kernel: fused (CPU, fastest) or parallel (reference log-depth scan)");
    v("batch_size", batch_size, "global training batch (split across ranks): 16 for ML, 64 for Amazon");
    v("lr", lr, "AdamW learning rate (the peak of a schedule)");
    v("lr_schedule", lr_schedule,
      "constant (LRURec), linear or cosine: warmup_steps from 0 to lr, then down to 0 at the run's last step "
      "(max_steps "
      "or the end of epochs, whichever comes first; early stopping may end the run before)");
    v("warmup_steps", warmup_steps, "linear warmup steps of a linear or cosine lr_schedule");
    v("weight_decay", weight_decay, "AdamW weight decay (not on biases and LayerNorms)");
    v("adam_eps", adam_eps, "AdamW epsilon");
    v("clip_grad_norm", clip_grad_norm, "global gradient-norm clip (0 = off)");
    v("epochs", epochs, "upper bound on epochs (early stopping usually ends the run first)");
    v("max_steps", max_steps, "stop after this many steps (0 = no limit)");
    v("val_interval", val_interval, "validate every this many steps (and at step 0)");
    v("patience", patience, "early stopping: validations without a better select_on");
    v("select_on", select_on,
      "validation metric that picks the best checkpoint: Recall@K, NDCG@K or MRR@K, K in 1, 5, 10, 20 (LRURec: "
      "Recall@10)");
    v("average_decay", average_decay,
      "validate and keep an exponential moving average of the weights with this decay, e.g. 0.999 (0 = the weights "
      "as trained, as LRURec)");
    v("checkpoint_interval", checkpoint_interval,
      "also write the resumable training state every this many steps (0 = at validations only)");
    v("max_bad_steps", max_bad_steps, "stop after this many steps in a row with a non-finite loss or gradient");
    v("val_exclude_history", val_exclude_history,
      "mask the input window's items when validating (LRURec does; LlamaRec's validation does not)");
    v("eval_batch_size", eval_batch_size, "users per scoring batch in validation and retrieval");
    v("device", device,
      "where LRURec trains and scores: cpu (its fused kernels, the same bits on any x86-64 CPU), cuda (the parallel "
      "scan; gradients all-reduced through the host) or auto (cuda if available)");
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
  std::string scalars = "metrics.jsonl";

  template <class V>
  void visit(V& v) {
    v("metrics", metrics, "metrics file, one entry per stage (relative paths are inside run.dir)");
    v("scalars", scalars,
      "training scalars, a JSON line per step and per validation (relative paths are inside run.dir)");
  }
};

struct RankerConfig {
  std::string model;
  std::string tokenizer;
  ComputeDtype dtype = ComputeDtype::kAuto;
  WeightQuantization quantization = WeightQuantization::kNone;
  int64_t batch_size = 16;
  int64_t eval_batch_size = 16;
  double lr = 1e-4;
  LrScheduleKind lr_schedule = LrScheduleKind::kLinearWarmupDecay;
  int64_t warmup_steps = 100;
  double weight_decay = 0.0;
  double clip_grad_norm = 1.0;
  int64_t epochs = 1;
  int64_t max_steps = 0;
  int64_t val_interval = 100;
  int64_t patience = 20;
  int64_t checkpoint_interval = 25;
  int64_t max_bad_steps = 5;
  int64_t val_users = 0;
  int64_t max_history = 20;
  int64_t max_title_tokens = 32;
  int64_t max_text_tokens = 1536;
  int64_t num_candidates = 20;
  LetterIds letter_ids = LetterIds::kNewline;
  PositionMode positions = PositionMode::kArange;
  TrainOrderChoice train_order = TrainOrderChoice::kRandom;
  CandidateOrderChoice val_order = CandidateOrderChoice::kShuffled;
  int64_t permutations = 0;
  bool calibrate = false;
  bool fuse_retriever = false;
  std::string adapter = "ranker_adapter";

  template <class V>
  void visit(V& v) {
    v("model", model,
      "base model: a Hugging Face Llama directory (config.json, *.safetensors, tokenizer.model); empty = the "
      "built-in tiny Llama of [builtin_llama], created in run.dir on first use");
    v("tokenizer", tokenizer, "SentencePiece tokenizer.model (empty: <model>/tokenizer.model)");
    v("dtype", dtype, "base weights and compute: auto (bfloat16 on CUDA, float32 on CPU), float32 or bfloat16");
    v("quantization", quantization,
      "frozen base projections: none (held in dtype) or nf4 (QLoRA: 4-bit NormalFloat, blocks of 64, double-"
      "quantized absmaxes; sharded and gathered as codes, dequantized into dtype per layer; the paper's setting)");
    v("batch_size", batch_size,
      "global training batch (split across ranks): 16 for ML, 12 for Amazon (docs/llamarec.md)");
    v("eval_batch_size", eval_batch_size,
      "prompts per rank per evaluation forward (a user scored in several candidate orders brings one per order)");
    v("lr", lr, "AdamW learning rate (the peak of the schedule)");
    v("lr_schedule", lr_schedule,
      "linear (LlamaRec: HF's linear schedule), cosine or constant: warmup_steps from 0 to lr, then down to 0 at "
      "the end of max_steps or epochs");
    v("warmup_steps", warmup_steps, "linear warmup steps");
    v("weight_decay", weight_decay, "AdamW weight decay on the LoRA parameters (HF default 0)");
    v("clip_grad_norm", clip_grad_norm, "global gradient-norm clip (0 = off)");
    v("epochs", epochs, "passes over the training examples (LlamaRec: 1)");
    v("max_steps", max_steps, "stop after this many steps (0 = the whole epochs); the schedule decays over it");
    v("val_interval", val_interval, "validate (NDCG@10 on the val subset) every this many steps");
    v("patience", patience, "early stopping: validations without a better NDCG@10");
    v("checkpoint_interval", checkpoint_interval,
      "also write the resumable training state (adapter, optimizer, generators) every this many steps "
      "(0 = at validations only)");
    v("max_bad_steps", max_bad_steps, "stop after this many steps in a row with a non-finite loss or gradient");
    v("val_users", val_users, "validate on the first this many users of the val subset (0 = all)");
    v("max_history", max_history, "history items in the prompt (the most recent ones)");
    v("max_title_tokens", max_title_tokens, "titles are cut to this many tokens");
    v("max_text_tokens", max_text_tokens, "prompts longer than this lose their beginning (left truncation, BOS kept)");
    v("num_candidates", num_candidates, "candidates per prompt, lettered A, B, ... (LlamaRec: 20)");
    v("letter_ids", letter_ids,
      "verbalizer ids: newline (the letter tokens as they follow \"\\n\", i.e. the trained ones) or "
      "dummy_prefix (encode(letter), what the reference code reads)");
    v("positions", positions, "position ids of left-padded prompts: arange (HF 4.33, the reference) or from_mask");
    v("train_order", train_order,
      "candidates of the training prompts: random (the target and uniform negatives, shuffled: the reference's), "
      "retriever (the retriever's top num_candidates of each training prefix in its order, hard negatives as at "
      "test time; prefixes whose target it misses are left out, as the evaluation's valid retrieval subset) or "
      "mix (each prefix either way with equal odds; missed ones random). retriever and mix make retrieve also "
      "score every training prefix");
    v("val_order", val_order,
      "candidate order of the validations that select the best adapter: shuffled (a seeded shuffle per user, so "
      "that the letter prior cannot pass for ranking) or retriever (the reference's)");
    v("permutations", permutations,
      "evaluation: 0 = candidates in retriever order (the reference); K >= 1 = the mean letter log-probabilities "
      "of K seeded shuffles per user (order-robust; the history part of the prompt runs once per user)");
    v("calibrate", calibrate,
      "evaluation: subtract the letter prior, estimated on validation prompts in shuffled order (contextual "
      "calibration)");
    v("fuse_retriever", fuse_retriever,
      "evaluation: add w x the retriever's log-probabilities over the candidates, w chosen on validation NDCG@10");
    v("adapter", adapter, "best LoRA adapter in PEFT format (a directory; relative paths are inside run.dir)");
  }
};

// The ranker's base when ranker.model is empty: a randomly initialised tiny Llama and a tokenizer
// trained on the dataset's titles and the prompt text (pipelines/builtin_llama.h). It needs no
// download; it has no world knowledge either.
struct BuiltinLlamaConfig {
  std::string dir = "builtin_llama";
  int64_t vocab_size = 1024;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 172;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  int64_t max_position_embeddings = 2048;
  int64_t corpus_prompts = 2000;

  template <class V>
  void visit(V& v) {
    v("dir", dir, "where the built-in base is written (relative paths are inside run.dir)");
    v("vocab_size", vocab_size,
      "tokenizer vocabulary, an upper bound (a small catalogue yields fewer pieces; at least 300)");
    v("hidden_size", hidden_size, "Llama hidden size");
    v("intermediate_size", intermediate_size, "Llama MLP size");
    v("num_hidden_layers", num_hidden_layers, "decoder layers");
    v("num_attention_heads", num_attention_heads, "attention heads");
    v("num_key_value_heads", num_key_value_heads, "key/value heads (fewer than the heads: grouped-query attention)");
    v("max_position_embeddings", max_position_embeddings, "longest sequence (RoPE table)");
    v("corpus_prompts", corpus_prompts, "training prompts added to the titles in the tokenizer's training text");
  }
};

struct FsdpConfig {
  bool shard = true;
  bool prefetch = false;

  template <class V>
  void visit(V& v) {
    v("shard", shard,
      "shard the frozen base weights 1/N per rank (gathered per layer); false replicates them (no gathers)");
    v("prefetch", prefetch,
      "start each layer's all-gather while the layer before it computes (two layers gathered at once); off by "
      "default: on CPU ranks the gather's copy competes with the compute for the same cores and it measured no "
      "faster (README, Performance)");
  }
};

struct DistributedConfig {
  CollectiveBackend backend = CollectiveBackend::kAuto;
  DeviceChoice device = DeviceChoice::kAuto;
  int64_t timeout_s = kDefaultCollectiveTimeout.count();

  template <class V>
  void visit(V& v) {
    v("backend", backend, "collective backend: auto (nccl for CUDA tensors, else mpi), mpi or nccl");
    v("device", device, "compute device: auto (cuda if available), cpu or cuda");
    v("timeout_s", timeout_s,
      "nccl: a collective unfinished after this many seconds (a dead or stuck peer) aborts the job");
  }
};

struct Config {
  std::string source = "<defaults>";              // the file it came from, for error messages
  std::map<std::string, std::string> overridden;  // "section.key" -> "--set section.key=value"
  RunConfig run;
  DataConfig data;
  RetrieverConfig retriever;
  RetrievalConfig retrieval;
  RankerConfig ranker;
  LoraConfig lora;
  BuiltinLlamaConfig builtin_llama;
  FsdpConfig fsdp;
  EvalConfig eval;
  DistributedConfig distributed;

  template <class V>
  void visit_sections(V& v) {
    v.section("run", run);
    v.section("data", data);
    v.section("retriever", retriever);
    v.section("retrieval", retrieval);
    v.section("ranker", ranker);
    v.section("lora", lora);
    v.section("builtin_llama", builtin_llama);
    v.section("fsdp", fsdp);
    v.section("eval", eval);
    v.section("distributed", distributed);
  }

  // Where the value of `key` ("section.key") came from, for error messages: its --set override, or
  // the file. A key ending in '.' stands for any key of that section.
  std::string origin(const std::string& key) const;

  // A path from the config: absolute as given, relative ones inside run.dir.
  std::string in_run_dir(const std::string& path) const;
};

// Loads `path` (empty: built-in defaults) and applies `overrides` ("section.key=value", in order).
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The effective config as TOML, with every key and its description as a comment.
std::string config_to_toml(const Config& config);

// Every key as "section.key" -> its value in TOML syntax, for comparing configs key by key
// (pipelines/config_diff.h).
using ConfigValues = std::map<std::string, std::string>;
ConfigValues config_values(const Config& config);

// Writes the effective config to `path` atomically (temp file + rename).
void save_config(const Config& config, const std::string& path);

}  // namespace llamarec
