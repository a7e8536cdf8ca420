#include "pipelines/training/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/fault_injection.h"
#include "core/stop_signal.h"
#include "core/profile_scope.h"
#include "core/progress.h"
#include "distributed/data_parallel.h"
#include "distributed/global_offset.h"
#include "pipelines/training/checkpointer.h"
#include "pipelines/training/scalar_log.h"
#include "pipelines/training/global_batch_plan.h"
#include "pipelines/training/parameter_average.h"

namespace llamarec {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void write_curve(const std::string& path, const TrainingState& s, const TrainingOptions& o, int ranks) {
  nlohmann::json j = {{"selection_metric", o.selection_metric},
                      {"best_step", s.best_step},
                      {"best_" + o.selection_metric, s.best_metric},
                      {"seconds_to_best", s.seconds_to_best},
                      {"seconds", s.elapsed},
                      {"ranks", ranks}};
  j["curve"] = to_json(s)["curve"];
  write_file_atomic(path, j.dump(1));
}

constexpr double kNoClip = std::numeric_limits<double>::infinity();

// A step whose loss or gradient is not finite leaves the parameters and the optimizer as they were;
// too many in a row end the run, its last checkpoint intact.
void skip_bad_step(TrainingState& state, const TrainingOptions& o, double loss, double grad_norm,
                   const std::string& state_dir) {
  ++state.bad_steps;
  ++state.skipped_steps;
  spdlog::warn("{} step {}: non-finite {} (loss sum {}, gradient norm {}); update skipped ({} in a row, limit {})",
               o.name, state.step, std::isfinite(loss) ? "gradient" : "loss", loss, grad_norm, state.bad_steps,
               o.max_bad_steps);
  if (state.bad_steps < o.max_bad_steps) return;
  const auto saved = newest_saved_state(state_dir);
  const auto steps = state.bad_steps == 1 ? fmt::format("step {} had", state.step)
                                          : fmt::format("{} steps in a row (steps {}-{}) had", state.bad_steps,
                                                        state.step - state.bad_steps + 1, state.step);
  fail(
      "{} training: {} a non-finite loss or gradient ({}.max_bad_steps = {}); stopped. The last checkpoint, {}, is "
      "kept: lower {}.lr or check the data, then run again to resume from it",
      o.name, steps, o.name, o.max_bad_steps, saved.empty() ? "none" : saved, o.name);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace

TrainingResult run_training(TrainingTask& task, const TrainingOptions& o, Communicator& comm) {
  const auto offset = global_offset(comm, task.num_local_examples());
  if (offset.total == 0) fail("{}: no {} training examples", o.data_source, o.name);
  GlobalBatchPlan plan(offset.first, task.num_local_examples(), offset.total, o.batch_size);
  const int64_t steps_per_epoch = plan.steps_per_epoch();
  const int64_t total_steps =
      o.max_steps > 0 ? std::min(o.max_steps, o.epochs * steps_per_epoch) : o.epochs * steps_per_epoch;
  LrSchedule schedule = o.lr;
  schedule.total_steps = total_steps;

  // Same initial parameters everywhere (the task seeds them; broadcast from rank 0 to be certain).
  const auto params = task.parameters();
  DataParallel dp(comm, params);
  dp.broadcast_parameters();
  auto& optimizer = task.optimizer();

  // The average starts at the broadcast initial parameters; a resumed run loads it with them.
  std::optional<ParameterAverage> average;
  if (o.average_decay > 0) average.emplace(task.named_parameters(), o.average_decay);
  const auto saved_tensors = [&] {
    auto tensors = task.named_parameters();
    if (average) tensors.merge(average->named_averages());
    return tensors;
  };

  Checkpointer checkpointer(o.state_dir, o.identity, comm, params.empty() ? comm.device() : params.front().device());
  const StopSignalScope stop_on_signal;
  TrainingState state;
  bool stop = false;
  bool generators_restored = false;
  if (auto resumed = checkpointer.load(saved_tensors(), optimizer)) {
    state = std::move(resumed->state);
    generators_restored = resumed->generators_restored;
    spdlog::info("resuming {} training at step {} from {} (best {} {:.4f} at step {})", o.name, state.step,
                 resumed->dir, o.selection_metric, state.best_metric, state.best_step);
    stop = state.stopped(o.patience);
    if (stop) spdlog::info("{} training stopped early before; raise the patience to continue it", o.name);
  }
  // A fresh run seeds dropout from the step; a resumed one continues its saved generators (or, on
  // another number of ranks, reseeds from the step: a different but equally valid run).
  if (!generators_restored) torch::manual_seed(dropout_seed(o.seed, o.dropout_stream, comm.rank(), state.step));

  ScalarLog scalars(o.scalars_path, o.name, state.step, comm.rank() == 0);
  int64_t numel = 0;
  for (const auto& p : params) numel += p.numel();
  spdlog::info(
      "train-{}: {} examples, {} steps/epoch (global batch {}), {} steps, validation every {}, checkpoint every {}; "
      "{} trainable parameters",
      o.name, offset.total, steps_per_epoch, o.batch_size, total_steps, o.val_interval,
      o.checkpoint_interval > 0 ? std::to_string(o.checkpoint_interval) : "validation", numel);

  const auto start = Clock::now();
  const double elapsed_before = state.elapsed;
  auto elapsed = [&] { return elapsed_before + seconds_since(start); };
  double validation_seconds = 0;
  int64_t steps_run = 0;
  Progress progress(o.name, total_steps - state.step, "step", 15.0);

  auto checkpoint = [&] {
    state.elapsed = elapsed();
    checkpointer.save(state, saved_tensors(), optimizer);
  };
  auto validate = [&] {
    const auto validation_start = Clock::now();
    TrainingTask::Validation v;
    bool better = false;
    const bool baseline = o.step0_is_baseline && state.step == 0;
    const int64_t epoch_done = state.step > 0 ? (state.step - 1) / steps_per_epoch : 0;  // of the last step
    const double train_loss = state.pending_label_count > 0 ? state.pending_loss_sum / state.pending_label_count : 0.0;
    {
      // Validated and kept as the best: the average where there is one; training resumes from the
      // trained values, put back before the state is saved.
      std::optional<ParameterAverage::Applied> averaged;
      if (average) averaged.emplace(*average);
      v = task.validate();
      const ValidationPoint p{state.step, epoch_done, train_loss, state.last_lr, elapsed(), v.metrics};
      better = state.record(p, o.selection_metric, baseline);
      scalars.validation(p.step, p.metrics, p.train_loss, better, p.seconds);
      if (better && comm.rank() == 0) task.save_best();
    }
    state.pending_loss_sum = state.pending_label_count = 0;
    const auto& p = state.curve.back();
    std::string shown;
    for (const auto& name : o.logged_metrics) shown += fmt::format(" {} {:.4f}", name, p.metrics.at(name));
    const auto best = baseline ? std::string("baseline (not a candidate for best)")
                               : fmt::format("best {:.4f} @ {}", state.best_metric, state.best_step);
    spdlog::info("step {:>6} | epoch {:>3} | loss {:.4f} | val{}{}{} | {}", p.step, p.epoch, p.train_loss, shown,
                 better ? " *" : "", v.note.empty() ? "" : " " + v.note, best);
    checkpoint();
    if (comm.rank() == 0) write_curve(o.curve_path, state, o, comm.size());
    if (state.stopped(o.patience)) {
      spdlog::info("early stopping: {} validations without improvement", state.bad_validations);
      stop = true;
    }
    validation_seconds += seconds_since(validation_start);
  };

  if (state.curve.empty()) validate();
  int64_t epoch = -1;
  while (!stop && state.step < total_steps) {
    if (state.step / steps_per_epoch != epoch) {
      epoch = state.step / steps_per_epoch;
      plan.start_epoch(o.seed, epoch);
    }
    DataParallel::Totals totals;
    {
      const ProfileScope profile_step("train.step");
      const auto local = plan.local_batch(state.step % steps_per_epoch);
      state.last_lr = schedule.at(state.step);
      set_learning_rate(optimizer, state.last_lr);
      // Zeroed, not reset to undefined (LibTorch 2's default): a parameter that gets no gradient in
      // a step must still be decayed as it was under 1.13, so that both builds train alike.
#if TORCH_VERSION_MAJOR >= 2
      optimizer.zero_grad(/*set_to_none=*/false);
#else
      optimizer.zero_grad();
#endif
      const bool poisoned = fault_at(FaultPoint::kStep, state.step);
      double local_loss = 0, local_tokens = 0;
      TrainingTask::Loss loss;
      if (!local.empty() || task.shares_batches()) {
        const ProfileScope profile_forward("train.forward");
        loss = task.loss(local);
      }
      if (loss.sum.defined()) {
        if (poisoned) loss.sum = loss.sum * std::numeric_limits<double>::quiet_NaN();
        {
          const ProfileScope profile_backward("train.backward");
          loss.sum.backward();
        }
        local_loss = loss.sum.item<double>();
        local_tokens = loss.weight;
      } else {
        task.empty_step();
      }
      if (poisoned) local_loss = std::numeric_limits<double>::quiet_NaN();
      {
        // Sum of gradients / global label count = gradient of the global mean loss.
        const ProfileScope profile_all_reduce("train.all_reduce");
        totals = dp.all_reduce_gradients(local_tokens, local_loss, stop_signal() != 0 ? 1.0 : 0.0);
      }
      // Clipped at infinity, the call only measures the norm. These are the all-reduced gradients: a
      // non-finite value on any rank is non-finite on every rank, so all ranks decide alike.
      double grad_norm = 0;
      {
        const ProfileScope profile_clip("train.clip");
        grad_norm = dp.clip_grad_norm(o.clip_grad_norm > 0 ? o.clip_grad_norm : kNoClip);
      }
      if (std::isfinite(totals.value) && std::isfinite(grad_norm)) {
        const ProfileScope profile_optimizer("train.optimizer");
        optimizer.step();
        if (average) average->update(state.step + 1);
        state.bad_steps = 0;
        state.pending_loss_sum += totals.value;
        state.pending_label_count += totals.weight;
      } else {
        skip_bad_step(state, o, totals.value, grad_norm, checkpointer.dir());
      }
      ++state.step;
      ++steps_run;
      scalars.step(state.step, epoch, totals.weight > 0 ? totals.value / totals.weight : 0.0, state.last_lr, grad_norm,
                   elapsed());
    }
    const auto note = task.progress_note(seconds_since(start));
    progress.advance(1, fmt::format("epoch {} | loss {:.4f} | lr {:.2e}{}", epoch,
                                    totals.weight > 0 ? totals.value / totals.weight : 0.0, state.last_lr,
                                    note.empty() ? "" : " | " + note));
    const bool stop_requested = totals.flags > 0;
    if (state.step % o.val_interval == 0) {
      validate();
    } else if (stop_requested || (o.checkpoint_interval > 0 && state.step % o.checkpoint_interval == 0)) {
      checkpoint();
    }
    if (stop_requested) {
      // Every rank saw the same sum: all stop after this step, its state saved.
      const int local = stop_signal();
      spdlog::warn("{} training: stopping after step {} on request ({} of {} ranks signalled{})", o.name, state.step,
                   static_cast<int64_t>(totals.flags), comm.size(),
                   local != 0 ? ", this one by " + signal_name(local) : "");
      throw StopRequested(fmt::format(
          "{} training stopped after step {}, its state saved in {}: run the same command again to resume there",
          o.name, state.step, checkpointer.dir()));
    }
  }
  if (state.curve.back().step != state.step) validate();

  TrainingResult result;
  result.steps = state.step;
  result.steps_run = steps_run;
  result.tokens = task.tokens_seen();
  result.best_step = state.best_step;
  result.best_metric = state.best_metric;
  result.seconds = elapsed();
  result.seconds_to_best = state.seconds_to_best;
  result.seconds_per_step = steps_run > 0 ? (seconds_since(start) - validation_seconds) / steps_run : 0.0;
  result.validation_seconds = validation_seconds;
  result.early_stopped = stop;
  result.skipped_steps = state.skipped_steps;
  result.curve = state.curve;
  spdlog::info("train-{} done: {} steps in {}, best val {} {:.4f} at step {} ({} to best)", o.name, result.steps,
               format_duration(result.seconds), o.selection_metric, result.best_metric, result.best_step,
               format_duration(result.seconds_to_best));
  return result;
}

}  // namespace llamarec
