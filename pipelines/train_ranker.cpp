#include "pipelines/train_ranker.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/candidates_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/safetensors.h"
#include "core/sequence_dataset.h"
#include "distributed/data_parallel.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/retriever_examples.h"
#include "pipelines/training_state.h"

namespace fs = std::filesystem;

namespace llamarec {

torch::Device ranker_device(const Config& config) {
  const auto& d = config.distributed.device;
  if (d == "cpu" || (d == "auto" && !torch::cuda::is_available())) return torch::kCPU;
  if (!torch::cuda::is_available()) fail("{}: distributed.device = cuda but CUDA is not available", config.source);
  return torch::kCUDA;
}

std::unique_ptr<Communicator> make_ranker_communicator(const Config& config) {
  return make_communicator(config.distributed.backend, ranker_device(config));
}

torch::Dtype ranker_dtype(const Config& config, const torch::Device& device) {
  const auto& d = config.ranker.dtype;
  if (d == "float32") return torch::kFloat32;
  if (d == "bfloat16") return torch::kBFloat16;
  return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
}

RankerSetup make_ranker_setup(const Config& config, Communicator& comm) {
  const auto& rc = config.ranker;
  if (rc.model.empty()) fail("{}: ranker.model is not set (a Hugging Face Llama directory)", config.source);
  if (!fs::is_directory(rc.model)) fail("{}: ranker.model '{}' is not a directory", config.source, rc.model);
  RankerSetup s;
  const auto tokenizer_path = rc.tokenizer.empty() ? (fs::path(rc.model) / "tokenizer.model").string() : rc.tokenizer;
  s.tokenizer = std::make_unique<Tokenizer>(tokenizer_path);
  const auto letters = candidate_letters(static_cast<int>(rc.num_candidates));
  s.train_letter_ids = letter_token_ids(*s.tokenizer, letters, "\n");
  const auto read_ids =
      rc.letter_ids == "dummy_prefix" ? letter_token_ids_dummy_prefix(*s.tokenizer, letters) : s.train_letter_ids;
  s.verbalizer_ids = torch::tensor(read_ids, torch::kLong);
  s.positions = rc.positions == "from_mask" ? PositionMode::kFromMask : PositionMode::kArange;
  s.prompt_options.max_history = rc.max_history;
  s.prompt_options.max_title_tokens = rc.max_title_tokens;
  s.prompt_options.max_text_tokens = rc.max_text_tokens;
  s.model = ShardedLlama::load(rc.model, comm, ranker_dtype(config, comm.device()), comm.device(), config.fsdp.shard);
  if (s.tokenizer->vocab_size() != s.model->config().vocab_size)
    fail("{}: tokenizer has {} pieces but the model's vocab_size is {}", tokenizer_path, s.tokenizer->vocab_size(),
         s.model->config().vocab_size);
  return s;
}

namespace {

using Clock = std::chrono::steady_clock;

struct TrainState {
  int64_t step = 0;
  int64_t best_step = -1;
  double best_ndcg10 = -1;
  int64_t bad_validations = 0;
  double elapsed = 0;
  std::vector<RankerValidationPoint> curve;
};

nlohmann::json to_json(const RankerValidationPoint& p) {
  return {{"step", p.step},           {"train_loss", p.train_loss}, {"NDCG@10", p.ndcg10}, {"Recall@10", p.recall10},
          {"MRR@10", p.mrr10},        {"lr", p.lr},                 {"seconds", p.seconds}};
}

RankerValidationPoint point_from_json(const nlohmann::json& j) {
  return {j.at("step"), j.at("train_loss"), j.at("NDCG@10"), j.at("Recall@10"), j.at("MRR@10"), j.at("lr"),
          j.at("seconds")};
}

std::string run_identity(const Config& config) {
  Config c;
  c.ranker = config.ranker;
  // Limits and evaluation settings may change between a run and its resumption.
  c.ranker.max_steps = 0;
  c.ranker.patience = 0;
  c.ranker.val_users = 0;
  c.ranker.eval_batch_size = 0;
  c.lora = config.lora;
  c.run.seed = config.run.seed;
  c.data.dataset = config.in_run_dir(config.data.dataset);
  return config_to_toml(c);
}

void save_state(const std::string& dir, const TrainState& s, const ShardedLlama& model,
                torch::optim::Optimizer& optimizer, const std::string& identity) {
  commit_directory_atomic(dir, [&](const std::string& new_path) {
    const fs::path new_dir(new_path);
    save_safetensors((new_dir / "lora.safetensors").string(), model.lora_tensors());
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to((new_dir / "optimizer.pt").string());
    nlohmann::json j = {{"step", s.step},       {"best_step", s.best_step},
                        {"best_ndcg10", s.best_ndcg10}, {"bad_validations", s.bad_validations},
                        {"elapsed", s.elapsed}, {"identity", identity}};
    j["curve"] = nlohmann::json::array();
    for (const auto& p : s.curve) j["curve"].push_back(to_json(p));
    write_file_atomic((new_dir / "state.json").string(), j.dump(1));
  });
}

bool load_state(const std::string& dir, TrainState& s, ShardedLlama& model, torch::optim::Optimizer& optimizer,
                const std::string& identity) {
  const auto saved = read_training_state(dir, identity);
  if (!saved) return false;
  const fs::path d(saved->dir);
  const auto& j = saved->json;
  s.step = j.at("step");
  s.best_step = j.at("best_step");
  s.best_ndcg10 = j.at("best_ndcg10");
  s.bad_validations = j.at("bad_validations");
  s.elapsed = j.at("elapsed");
  for (const auto& p : j.value("curve", nlohmann::json::array())) s.curve.push_back(point_from_json(p));
  const SafetensorsCheckpoint weights((d / "lora.safetensors").string());
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : model.lora_tensors()) tensor.copy_(weights.load(name, tensor.scalar_type()));
  torch::serialize::InputArchive archive;
  archive.load_from((d / "optimizer.pt").string());
  optimizer.load(archive);
  return true;
}

// HF's get_linear_schedule_with_warmup, stepped after each update: step s trains at lr·f(s).
double lr_factor(int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
}

}  // namespace

RankerTrainResult train_ranker(const Config& config, Communicator& comm) {
  const auto& rc = config.ranker;
  const auto dataset_path = config.in_run_dir(config.data.dataset);
  const auto candidates_path = config.in_run_dir(config.retrieval.candidates);
  const auto adapter_dir = config.in_run_dir(rc.adapter);
  const auto state_dir = adapter_dir + ".state";
  const auto shard = SequenceDataset::open_shard(dataset_path, comm.rank(), comm.size());
  const auto candidates = read_candidates(candidates_path);

  auto setup = make_ranker_setup(config, comm);
  auto& model = *setup.model;
  const PromptBuilder prompts(*setup.tokenizer, shard.titles(), setup.train_letter_ids, setup.prompt_options);

  const auto examples = make_ranker_train_examples(shard, rc.num_candidates, static_cast<uint64_t>(config.run.seed));
  const auto val_examples = make_ranker_eval_examples(shard, candidates, Split::kVal, rc.num_candidates);
  const auto [first, total] = global_offset(comm, static_cast<int64_t>(examples.size()));
  const auto [val_first, val_total] = global_offset(comm, static_cast<int64_t>(val_examples.size()));
  (void)val_first;
  if (total == 0) fail("{}: no ranker training examples", dataset_path);
  GlobalBatchPlan plan(first, static_cast<int64_t>(examples.size()), total, rc.batch_size);
  const int64_t steps_per_epoch = plan.steps_per_epoch();
  const int64_t total_steps =
      rc.max_steps > 0 ? std::min(rc.max_steps, rc.epochs * steps_per_epoch) : rc.epochs * steps_per_epoch;

  LoraConfig lora{config.lora.r, config.lora.alpha, config.lora.dropout, config.lora.target_modules};
  model.apply_lora(lora, static_cast<uint64_t>(config.run.seed));
  auto params = model.lora_parameters();
  DataParallel dp(comm, params);
  dp.broadcast_parameters();
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(rc.lr).weight_decay(rc.weight_decay));

  TrainState state;
  const auto identity = run_identity(config);
  if (load_state(state_dir, state, model, optimizer, identity))
    spdlog::info("resuming ranker training at step {} (best NDCG@10 {:.4f} at step {})", state.step,
                 state.best_ndcg10, state.best_step);
  // LoRA dropout draws: per rank and per step, so that a resumed run continues the same stream.
  torch::manual_seed(static_cast<uint64_t>(config.run.seed) + 7919ULL * (comm.rank() + 1) +
                     static_cast<uint64_t>(state.step));

  int64_t lora_numel = 0;
  for (const auto& p : params) lora_numel += p.numel();
  const int64_t val_users = rc.val_users > 0 ? std::min(rc.val_users, val_total) : val_total;
  spdlog::info("train-ranker: {} examples, {} steps/epoch (global batch {}), {} steps; val subset {} users "
               "(validating on {}), every {} steps; LoRA {} parameters (r {}, on {})",
               total, steps_per_epoch, rc.batch_size, total_steps, val_total, val_users, rc.val_interval, lora_numel,
               lora.r, fmt::join(lora.target_modules, ","));

  const std::vector<int64_t> ks = {1, 5, 10};
  const auto start = Clock::now();
  const double elapsed_before = state.elapsed;
  auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(Clock::now() - start).count(); };
  double loss_sum = 0, token_sum = 0;
  int64_t steps_run = 0, tokens_seen = 0;
  bool stop = false;
  Progress progress("ranker", total_steps - state.step, "step", 15.0);

  auto validate = [&](double lr_now) {
    const auto eval = evaluate_ranker(model, prompts, shard, val_examples, setup.verbalizer_ids, rc.eval_batch_size, ks,
                                      setup.positions, val_users);
    const auto m = eval.ranker.means();
    RankerValidationPoint p{state.step, token_sum > 0 ? loss_sum / token_sum : 0.0, m.at("NDCG@10"), m.at("Recall@10"),
                            m.at("MRR@10"), lr_now, elapsed()};
    loss_sum = token_sum = 0;
    state.curve.push_back(p);
    const bool better = p.ndcg10 > state.best_ndcg10;
    if (better) {
      state.best_ndcg10 = p.ndcg10;
      state.best_step = state.step;
      state.bad_validations = 0;
      if (comm.rank() == 0) model.save_adapter(adapter_dir, rc.model);
    } else {
      ++state.bad_validations;
    }
    const auto r = eval.retriever.means();
    spdlog::info("step {:>6} | loss {:.4f} | val NDCG@10 {:.4f} Recall@10 {:.4f} MRR@10 {:.4f}{} (retriever NDCG@10 "
                 "{:.4f}) | best {:.4f} @ {}",
                 p.step, p.train_loss, p.ndcg10, p.recall10, p.mrr10, better ? " *" : "", r.at("NDCG@10"),
                 state.best_ndcg10, state.best_step);
    state.elapsed = elapsed();
    if (comm.rank() == 0) {
      save_state(state_dir, state, model, optimizer, identity);
      nlohmann::json j = {{"best_step", state.best_step}, {"best_NDCG@10", state.best_ndcg10}};
      j["curve"] = nlohmann::json::array();
      for (const auto& q : state.curve) j["curve"].push_back(to_json(q));
      write_file_atomic(adapter_dir + ".curve.json", j.dump(1));
    }
    if (state.bad_validations >= rc.patience) {
      spdlog::info("early stopping: {} validations without improvement", state.bad_validations);
      stop = true;
    }
  };

  if (state.curve.empty()) validate(0.0);
  const int64_t bos = setup.tokenizer->bos_id() >= 0 ? setup.tokenizer->bos_id() : 0;
  int64_t epoch = -1;
  while (!stop && state.step < total_steps) {
    if (state.step / steps_per_epoch != epoch) {
      epoch = state.step / steps_per_epoch;
      plan.start_epoch(static_cast<uint64_t>(config.run.seed), epoch);
    }
    const auto local = plan.local_batch(state.step % steps_per_epoch);
    const double lr_now = rc.lr * lr_factor(state.step, rc.warmup_steps, total_steps);
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr_now);
    optimizer.zero_grad();
    double local_loss = 0, local_tokens = 0;
    if (!local.empty()) {
      std::vector<TokenizedPrompt> batch;
      for (const auto i : local) {
        const auto& ex = examples[i];
        batch.push_back(prompts.encode_train(example_history(shard, ex), ex.candidates, ex.answer));
        tokens_seen += static_cast<int64_t>(batch.back().ids.size());
      }
      auto loss = ranker_loss_sum(model, collate_prompts(batch), true, setup.positions);
      loss.backward();
      local_loss = loss.item<double>();
      local_tokens = 2.0 * static_cast<double>(local.size());
    } else {
      // No example of this batch lives here: run a zero-weight step so the sharded layers' gathers
      // (forward and backward) match the other ranks'.
      auto dummy = collate_prompts({TokenizedPrompt{{bos, bos, bos}}});
      (ranker_loss_sum(model, dummy, true, setup.positions) * 0.0).backward();
    }
    const auto totals = dp.all_reduce_gradients(local_tokens, local_loss);
    if (rc.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, rc.clip_grad_norm);
    optimizer.step();
    ++state.step;
    ++steps_run;
    loss_sum += totals.value;
    token_sum += totals.weight;
    const double rate = progress.elapsed_seconds() > 0 ? tokens_seen / progress.elapsed_seconds() : 0.0;
    progress.advance(1, fmt::format("loss {:.4f} | lr {:.2e} | {:.0f} tok/s/rank",
                                    totals.weight > 0 ? totals.value / totals.weight : 0.0, lr_now, rate));
    if (state.step % rc.val_interval == 0) validate(lr_now);
  }
  if (state.curve.back().step != state.step) validate(rc.lr * lr_factor(state.step, rc.warmup_steps, total_steps));

  RankerTrainResult result;
  result.steps = state.step;
  result.best_step = state.best_step;
  result.best_ndcg10 = state.best_ndcg10;
  result.seconds = elapsed();
  result.seconds_per_step =
      steps_run > 0 ? std::chrono::duration<double>(Clock::now() - start).count() / steps_run : 0.0;
  result.early_stopped = stop;
  result.curve = state.curve;
  spdlog::info("train-ranker done: {} steps in {}, best val NDCG@10 {:.4f} at step {}; adapter in {}", result.steps,
               format_duration(result.seconds), result.best_ndcg10, result.best_step, adapter_dir);
  return result;
}

}  // namespace llamarec
