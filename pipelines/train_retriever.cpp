#include "pipelines/train_retriever.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/safetensors.h"
#include "core/sequence_dataset.h"
#include "distributed/data_parallel.h"
#include "models/lru_params.h"
#include "pipelines/retriever_checkpoint.h"
#include "pipelines/retriever_examples.h"
#include "pipelines/training_state.h"
#include "pipelines/retriever_scoring.h"

namespace fs = std::filesystem;

namespace llamarec {
namespace {

using Clock = std::chrono::steady_clock;

// Everything needed to continue a run: counters, the validation curve and the best so far.
struct TrainState {
  int64_t epoch = 0;
  int64_t step_in_epoch = 0;  // next step to run in `epoch`
  int64_t iteration = 0;
  int64_t best_iteration = 0;
  double best_recall10 = -1;
  int64_t bad_validations = 0;
  double elapsed = 0;
  double seconds_to_best = 0;
  std::vector<ValidationPoint> curve;
};

nlohmann::json to_json(const ValidationPoint& p) {
  return {{"iteration", p.iteration}, {"epoch", p.epoch},   {"train_loss", p.train_loss}, {"Recall@10", p.recall10},
          {"NDCG@10", p.ndcg10},      {"MRR@10", p.mrr10}, {"seconds", p.seconds}};
}

ValidationPoint point_from_json(const nlohmann::json& j) {
  return {j.at("iteration"), j.at("epoch"), j.at("train_loss"), j.at("Recall@10"), j.at("NDCG@10"), j.at("MRR@10"),
          j.at("seconds")};
}

// The settings that must match for a saved state to be resumed. Limits and patience are left out:
// they do not change the trajectory so far, and raising them must continue a run, not restart it.
std::string run_identity(const Config& config) {
  Config c;
  c.retriever = config.retriever;
  c.retriever.max_epochs = RetrieverConfig{}.max_epochs;
  c.retriever.max_iterations = RetrieverConfig{}.max_iterations;
  c.retriever.patience = RetrieverConfig{}.patience;
  c.retriever.eval_batch_size = RetrieverConfig{}.eval_batch_size;
  c.run.seed = config.run.seed;
  c.data.dataset = config.in_run_dir(config.data.dataset);
  return config_to_toml(c);
}

void save_state(const std::string& dir, const TrainState& s, LruRec& model, torch::optim::Optimizer& optimizer,
                const std::string& identity) {
  // Written to a fresh directory, then swapped in, so that a crash leaves either the old or the new
  // state complete.
  commit_directory_atomic(dir, [&](const std::string& new_path) {
    const fs::path new_dir(new_path);
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& item : model->named_parameters()) tensors[item.key()] = item.value().detach();
    save_safetensors((new_dir / "model.safetensors").string(), tensors);
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to((new_dir / "optimizer.pt").string());
    nlohmann::json j = {{"epoch", s.epoch},
                        {"step_in_epoch", s.step_in_epoch},
                        {"iteration", s.iteration},
                        {"best_iteration", s.best_iteration},
                        {"best_recall10", s.best_recall10},
                        {"bad_validations", s.bad_validations},
                        {"elapsed", s.elapsed},
                        {"seconds_to_best", s.seconds_to_best},
                        {"identity", identity}};
    for (const auto& p : s.curve) j["curve"].push_back(to_json(p));
    write_file_atomic((new_dir / "state.json").string(), j.dump(1));
  });
}

// Loads a saved state into `s`, `model` and `optimizer`; false when there is none or it belongs to
// other settings.
bool load_state(const std::string& dir, TrainState& s, LruRec& model, torch::optim::Optimizer& optimizer,
                const std::string& identity) {
  const auto saved = read_training_state(dir, identity);
  if (!saved) return false;
  const fs::path d(saved->dir);
  const auto& j = saved->json;
  s.epoch = j.at("epoch");
  s.step_in_epoch = j.at("step_in_epoch");
  s.iteration = j.at("iteration");
  s.best_iteration = j.at("best_iteration");
  s.best_recall10 = j.at("best_recall10");
  s.bad_validations = j.at("bad_validations");
  s.elapsed = j.at("elapsed");
  s.seconds_to_best = j.at("seconds_to_best");
  s.curve.clear();
  for (const auto& p : j.value("curve", nlohmann::json::array())) s.curve.push_back(point_from_json(p));
  const SafetensorsCheckpoint weights((d / "model.safetensors").string());
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) item.value().copy_(weights.load(item.key(), item.value().scalar_type()));
  torch::serialize::InputArchive archive;
  archive.load_from((d / "optimizer.pt").string());
  optimizer.load(archive);
  return true;
}

void write_curve(const std::string& path, const TrainState& s, int ranks) {
  nlohmann::json j = {{"best_iteration", s.best_iteration}, {"best_Recall@10", s.best_recall10},
                      {"seconds_to_best", s.seconds_to_best}, {"seconds", s.elapsed}, {"ranks", ranks}};
  j["curve"] = nlohmann::json::array();
  for (const auto& p : s.curve) j["curve"].push_back(to_json(p));
  write_file_atomic(path, j.dump(1));
}

}  // namespace

RetrieverTrainResult train_retriever(const Config& config, Communicator& comm) {
  const auto& rc = config.retriever;
  const std::string dataset_path = config.in_run_dir(config.data.dataset);
  const std::string checkpoint = config.in_run_dir(rc.checkpoint);
  const std::string state_dir = checkpoint + ".state";
  const auto shard = SequenceDataset::open_shard(dataset_path, comm.rank(), comm.size());

  // Global example numbering: this rank's examples follow those of lower ranks.
  const auto examples = make_retriever_examples(shard, rc.max_len);
  torch::Tensor counts;
  comm.all_gather(torch::tensor({static_cast<int64_t>(examples.size())}, torch::kLong), counts);
  const auto counts_cpu = counts.to(torch::kCPU);
  const int64_t first = comm.rank() == 0 ? 0 : counts_cpu.slice(0, 0, comm.rank()).sum().item<int64_t>();
  const int64_t total = counts_cpu.sum().item<int64_t>();
  GlobalBatchPlan plan(first, static_cast<int64_t>(examples.size()), total, rc.batch_size);
  if (total == 0) fail("{}: no training examples", dataset_path);

  // Same initial parameters everywhere (seeded, then broadcast from rank 0 to be certain); dropout
  // draws differ per rank like in any data-parallel run.
  torch::manual_seed(static_cast<uint64_t>(config.run.seed));
  const std::string where = config.source + ": [retriever]";
  LruRec model(lru_config_from(rc, shard.num_items(), where));
  std::vector<torch::Tensor> params;
  for (const auto& p : model->parameters()) params.push_back(p);
  DataParallel dp(comm, params);
  dp.broadcast_parameters();
  torch::optim::AdamW optimizer(lru_adamw_param_groups(
      *model, torch::optim::AdamWOptions(rc.lr).eps(rc.adam_eps).weight_decay(rc.weight_decay)));

  TrainState state;
  const std::string identity = run_identity(config);
  bool stop = false;
  if (load_state(state_dir, state, model, optimizer, identity)) {
    spdlog::info("resuming retriever training at iteration {} (epoch {}, best Recall@10 {:.4f} at {})",
                 state.iteration, state.epoch, state.best_recall10, state.best_iteration);
    // An early-stopped run stays stopped unless the patience was raised.
    stop = state.bad_validations >= rc.patience;
  }
  torch::manual_seed(static_cast<uint64_t>(config.run.seed) + 1000003ULL * (comm.rank() + 1) +
                     static_cast<uint64_t>(state.iteration));

  ScoringOptions val_options{Split::kVal, rc.max_len, rc.val_exclude_history, rc.eval_batch_size};
  const std::vector<int64_t> ks = {1, 5, 10, 20};
  const int64_t steps = plan.steps_per_epoch();
  const int64_t max_iterations =
      rc.max_iterations > 0 ? std::min(rc.max_iterations, rc.max_epochs * steps) : rc.max_epochs * steps;
  spdlog::info("train-retriever: {} users, {} items, {} examples, {} steps/epoch (global batch {}), "
               "up to {} iterations, validation every {}",
               shard.num_users(), shard.num_items(), total, steps, rc.batch_size, max_iterations, rc.val_interval);

  const auto start = Clock::now();
  const double elapsed_before = state.elapsed;
  auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(Clock::now() - start).count(); };
  double loss_sum = 0, token_sum = 0;
  int64_t iterations_run = 0;
  double validation_seconds = 0;  // in this call; kept out of the per-iteration time
  Progress progress("retriever", max_iterations - state.iteration, "it", 15.0);

  auto validate = [&] {
    const auto validation_start = Clock::now();
    const auto metrics = evaluate_retriever(model, shard, val_options, ks, comm).means();
    ValidationPoint p{state.iteration,        state.epoch,           token_sum > 0 ? loss_sum / token_sum : 0.0,
                      metrics.at("Recall@10"), metrics.at("NDCG@10"), metrics.at("MRR@10"),
                      elapsed()};
    loss_sum = token_sum = 0;
    state.curve.push_back(p);
    const bool better = p.recall10 > state.best_recall10;  // strict, as the reference
    if (better) {
      state.best_recall10 = p.recall10;
      state.best_iteration = state.iteration;
      state.seconds_to_best = p.seconds;
      state.bad_validations = 0;
      if (comm.rank() == 0) save_retriever(checkpoint, model);
    } else {
      ++state.bad_validations;
    }
    spdlog::info("iter {:>6} | epoch {:>3} | loss {:.4f} | val Recall@10 {:.4f} NDCG@10 {:.4f} MRR@10 {:.4f}{} | "
                 "best {:.4f} @ {}",
                 p.iteration, p.epoch, p.train_loss, p.recall10, p.ndcg10, p.mrr10, better ? " *" : "",
                 state.best_recall10, state.best_iteration);
    state.elapsed = elapsed();
    if (comm.rank() == 0) {
      save_state(state_dir, state, model, optimizer, identity);
      write_curve(checkpoint + ".curve.json", state, comm.size());
    }
    if (state.bad_validations >= rc.patience) {
      spdlog::info("early stopping: {} validations without improvement", state.bad_validations);
      stop = true;
    }
    validation_seconds += std::chrono::duration<double>(Clock::now() - validation_start).count();
  };

  if (state.curve.empty()) validate();
  while (!stop && state.iteration < max_iterations && state.epoch < rc.max_epochs) {
    plan.start_epoch(static_cast<uint64_t>(config.run.seed), state.epoch);
    model->train();
    while (state.step_in_epoch < steps && !stop && state.iteration < max_iterations) {
      const auto local = plan.local_batch(state.step_in_epoch);
      optimizer.zero_grad();
      double local_loss = 0, local_tokens = 0;
      if (!local.empty()) {
        const auto batch = collate_retriever_examples(shard, examples, local, rc.max_len);
        auto loss = model->loss_sum(batch.tokens, batch.labels);
        loss.backward();
        local_loss = loss.item<double>();
        local_tokens = static_cast<double>((batch.labels > 0).sum().item<int64_t>());
      }
      // Sum of gradients / global label count = gradient of the global mean loss.
      const auto totals = dp.all_reduce_gradients(local_tokens, local_loss);
      if (rc.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, rc.clip_grad_norm);
      optimizer.step();
      ++state.step_in_epoch;  // before validate(), so that a saved state resumes after this step
      ++state.iteration;
      ++iterations_run;
      loss_sum += totals.value;
      token_sum += totals.weight;
      progress.advance(1, fmt::format("epoch {} | loss {:.4f}", state.epoch, totals.weight > 0 ? totals.value / totals.weight : 0.0));
      if (state.iteration % rc.val_interval == 0) validate();
    }
    if (state.step_in_epoch >= steps) {
      ++state.epoch;
      state.step_in_epoch = 0;
    }
  }
  if (!state.curve.empty() && state.curve.back().iteration != state.iteration) validate();

  RetrieverTrainResult result;
  result.iterations = state.iteration;
  result.iterations_run = iterations_run;
  result.best_iteration = state.best_iteration;
  result.best_recall10 = state.best_recall10;
  result.seconds = elapsed();
  result.seconds_to_best = state.seconds_to_best;
  result.seconds_per_iteration =
      iterations_run > 0
          ? (std::chrono::duration<double>(Clock::now() - start).count() - validation_seconds) / iterations_run
          : 0.0;
  result.validation_seconds = validation_seconds;
  result.early_stopped = stop;
  result.curve = state.curve;
  spdlog::info("train-retriever done: {} iterations in {}, best val Recall@10 {:.4f} at iteration {} ({} to best)",
               result.iterations, format_duration(result.seconds), result.best_recall10, result.best_iteration,
               format_duration(result.seconds_to_best));
  return result;
}

}  // namespace llamarec
