// The training loop on a toy task (least squares), so that its rules are tested apart from any
// model: schedule length, validation cadence, best tracking, early stopping that stays stopped,
// resume that continues (bit for bit, after a crash anywhere), the non-finite guard, the LR
// schedule, and the empty step of a rank without examples.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fault_injection.h"
#include "core/safetensors.h"
#include "distributed/mpi_communicator.h"
#include "pipelines/training/checkpointer.h"
#include "pipelines/training/lr_schedule.h"
#include "pipelines/training/parameter_average.h"
#include "pipelines/training/trainer.h"
#include "tests/pipelines/saved_state_edit.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using testing::TempDir;

// y = x·[2, -1]; the examples of this rank are x = (i, 1) for its share of i = 0..n-1.
class LeastSquaresTask : public TrainingTask {
 public:
  LeastSquaresTask(int64_t first, int64_t count)
      : first_(first),
        count_(count),
        w_(torch::zeros({2}, torch::kDouble).requires_grad_(true)),
        optimizer_({w_}, torch::optim::SGDOptions(0.01)) {}

  int64_t num_local_examples() const override { return count_; }
  std::vector<torch::Tensor> parameters() const override { return {w_}; }
  std::map<std::string, torch::Tensor> named_parameters() const override { return {{"w", w_}}; }
  torch::optim::Optimizer& optimizer() override { return optimizer_; }

  Loss loss(const std::vector<int64_t>& batch) override {
    auto x = torch::zeros({static_cast<int64_t>(batch.size()), 2}, torch::kDouble);
    for (size_t k = 0; k < batch.size(); ++k) {
      x[k][0] = static_cast<double>((first_ + batch[k]) % 5) / 5.0;
      x[k][1] = 1.0;
    }
    const auto y = torch::matmul(x, torch::tensor({2.0, -1.0}, torch::kDouble));
    ++loss_calls;
    return {(torch::matmul(x, w_) - y).pow(2).sum(), static_cast<double>(batch.size())};
  }
  void empty_step() override { ++empty_steps; }

  Validation validate() override {
    // Distance to the solution, the same on every rank: higher is better.
    const double d = (w_.detach() - torch::tensor({2.0, -1.0}, torch::kDouble)).norm().item<double>();
    return {{{"score", -d}}, ""};
  }
  void save_best() override { ++best_saves; }

  int64_t loss_calls = 0, empty_steps = 0, best_saves = 0;

 private:
  int64_t first_, count_;
  torch::Tensor w_;
  torch::optim::SGD optimizer_;
};

// The same regression with what makes exact resume hard: random draws from the default generator
// (like dropout) in every loss, and an optimizer with state (Adam's moments and step count).
class NoisyTask : public TrainingTask {
 public:
  NoisyTask()
      : w_(torch::zeros({2}, torch::kDouble).requires_grad_(true)), optimizer_({w_}, torch::optim::AdamOptions(0.05)) {}

  int64_t num_local_examples() const override { return 20; }
  std::vector<torch::Tensor> parameters() const override { return {w_}; }
  std::map<std::string, torch::Tensor> named_parameters() const override { return {{"w", w_}}; }
  torch::optim::Optimizer& optimizer() override { return optimizer_; }

  Loss loss(const std::vector<int64_t>& batch) override {
    const auto n = static_cast<int64_t>(batch.size());
    auto x = torch::stack({torch::tensor(batch, torch::kDouble) / 20.0, torch::ones({n}, torch::kDouble)}, 1);
    x = x * (torch::rand({n, 2}, torch::kDouble) > 0.2);  // [n, 2], dropout-like
    const auto y = torch::matmul(x, torch::tensor({2.0, -1.0}, torch::kDouble));
    return {(torch::matmul(x, w_) - y).pow(2).sum(), static_cast<double>(n)};
  }
  Validation validate() override {
    return {{{"score", -(w_.detach() - torch::tensor({2.0, -1.0}, torch::kDouble)).norm().item<double>()}}, ""};
  }
  void save_best() override {}

  torch::Tensor weights() const { return w_.detach().clone(); }

 private:
  torch::Tensor w_;
  torch::optim::Adam optimizer_;
};

// Arms a fault for one scope.
struct ArmedFault {
  explicit ArmedFault(const std::string& spec) { set_fault_plan(parse_fault_plan(spec)); }
  ~ArmedFault() { set_fault_plan(std::nullopt); }
};

TrainingOptions toy_options(const std::filesystem::path& dir) {
  TrainingOptions o;
  o.name = "toy";
  o.batch_size = 4;
  o.epochs = 100;
  o.max_steps = 30;
  o.val_interval = 10;
  o.patience = 3;
  o.lr = {LrScheduleKind::kConstant, 0.05, 0, 0};
  o.seed = 7;
  o.selection_metric = "score";
  o.logged_metrics = {"score"};
  o.state_dir = (dir / "toy.state").string();
  o.curve_path = (dir / "toy.curve.json").string();
  o.identity = {{"toy.version", "1"}};
  return o;
}

TEST(TrainingLoop, ValidatesOnScheduleKeepsTheBestAndResumes) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  LeastSquaresTask task(0, 20);
  auto o = toy_options(tmp.path());
  const auto result = run_training(task, o, self);
  EXPECT_EQ(result.steps, 30);
  EXPECT_EQ(result.steps_run, 30);
  ASSERT_EQ(result.curve.size(), 4u);  // steps 0, 10, 20, 30
  for (size_t i = 0; i < result.curve.size(); ++i) EXPECT_EQ(result.curve[i].step, static_cast<int64_t>(10 * i));
  EXPECT_EQ(result.best_step, 30);  // gradient descent on a convex loss: every validation is better
  EXPECT_EQ(task.best_saves, 4);
  EXPECT_EQ(task.loss_calls, 30);
  EXPECT_GT(result.curve[1].train_loss, result.curve[3].train_loss);
  EXPECT_TRUE(std::filesystem::exists(o.curve_path));

  // A new task (fresh parameters) started again with a higher limit continues from the state.
  LeastSquaresTask resumed_task(0, 20);
  o.max_steps = 45;
  const auto resumed = run_training(resumed_task, o, self);
  EXPECT_EQ(resumed.steps, 45);
  EXPECT_EQ(resumed.steps_run, 15);
  ASSERT_EQ(resumed.curve.size(), 6u);  // ..., 40, and the final 45
  EXPECT_EQ(resumed.curve[5].step, 45);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_DOUBLE_EQ(resumed.curve[i].metrics.at("score"), result.curve[i].metrics.at("score"));

  // Another identity does not resume.
  LeastSquaresTask other_task(0, 20);
  o.identity = {{"toy.version", "2"}};
  EXPECT_EQ(run_training(other_task, o, self).steps_run, 45);
}

// Replaces the identity in the newest saved state under `state_dir` with `text`, as releases up to
// c17e43a wrote it (null: none).
void set_saved_identity(const std::string& state_dir, const nlohmann::json& text) {
  testing::edit_saved_state(state_dir, [&](nlohmann::json& state) {
    ASSERT_TRUE(state.at("identity_values").is_object());
    ASSERT_FALSE(state.contains("identity"));  // that key is left to older releases, which read a string
    state.erase("identity_values");
    state["identity"] = text;
  });
}

// Earlier releases saved the identity as the config's TOML text, comments and all: a state of theirs
// resumes when its values are the same, whatever the comments say, and not when a value differs.
TEST(TrainingLoop, AStateWithTheEarlierReleasesTextIdentityResumesOnItsValues) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  auto o = toy_options(tmp.path());
  o.identity = {{"toy.version", "1"}, {"toy.rate", "0.5"}};
  LeastSquaresTask first(0, 20);
  ASSERT_EQ(run_training(first, o, self).steps_run, 30);

  set_saved_identity(o.state_dir,
                     "\n[toy]\n# a doc comment since reworded\nrate = 0.5\n# another = 3\nversion = 1\n"
                     "\n[other]\n# a section this trainer ignores\nkey = 7\n");
  o.max_steps = 40;
  LeastSquaresTask resumed(0, 20);
  EXPECT_EQ(run_training(resumed, o, self).steps_run, 10);

  set_saved_identity(o.state_dir, "\n[toy]\nrate = 0.25\nversion = 1\n");
  o.max_steps = 45;
  LeastSquaresTask changed(0, 20);
  EXPECT_EQ(run_training(changed, o, self).steps_run, 45);

  // No identity at all: not resumed.
  set_saved_identity(o.state_dir, nullptr);
  LeastSquaresTask unknown(0, 20);
  EXPECT_EQ(run_training(unknown, o, self).steps_run, 45);
}

// A crash at step `crash` (a throw where a kill would be, before the update), then a restart: the
// run ends exactly where the uninterrupted one ends, curve included (with `average_decay`, the
// validations are of the parameter average, which must be restored with the rest).
void expect_exact_resume(const std::string& fault, int64_t expect_resumed_from, double average_decay = 0) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  auto o = toy_options(tmp.path() / "uninterrupted");
  o.checkpoint_interval = 4;
  o.patience = 100;
  o.average_decay = average_decay;
  NoisyTask reference;
  const auto expected = run_training(reference, o, self);

  o = toy_options(tmp.path() / "crashed");
  o.checkpoint_interval = 4;
  o.patience = 100;
  o.average_decay = average_decay;
  {
    ArmedFault armed(fault);
    NoisyTask crashed;
    EXPECT_THROW(run_training(crashed, o, self), Error) << fault;
  }
  // Some other draws in between (another stage, a restart): the saved generator state wins.
  torch::rand({100});
  NoisyTask resumed;
  const auto result = run_training(resumed, o, self);
  EXPECT_EQ(result.steps, expected.steps);
  EXPECT_EQ(result.steps_run, expected.steps - expect_resumed_from) << fault;
  EXPECT_TRUE(torch::equal(resumed.weights(), reference.weights())) << fault;
  ASSERT_EQ(result.curve.size(), expected.curve.size());
  for (size_t i = 0; i < result.curve.size(); ++i) {
    EXPECT_EQ(result.curve[i].train_loss, expected.curve[i].train_loss) << fault << " validation " << i;
    EXPECT_EQ(result.curve[i].lr, expected.curve[i].lr) << fault << " validation " << i;
    EXPECT_EQ(result.curve[i].metrics.at("score"), expected.curve[i].metrics.at("score")) << fault << " " << i;
  }
  // Only the newest two states are kept.
  int states = 0;
  for (const auto& e : std::filesystem::directory_iterator(o.state_dir)) states += e.is_directory() ? 1 : 0;
  EXPECT_EQ(states, 2);
}

TEST(TrainingLoop, AResumedRunIsTheUninterruptedOneBitForBit) {
  expect_exact_resume("throw@step=13", 12);        // checkpoints every 4 steps: 12 is the newest
  expect_exact_resume("throw@step=21", 20);        // 20: a validation
  expect_exact_resume("throw@checkpoint=16", 12);  // a crash while step 16 is written: 12 survives
  expect_exact_resume("throw@step=13", 12, 0.8);
}

TEST(ParameterAverage, FollowsTheDecayScheduleAndSwapsInForItsScope) {
  auto w = torch::zeros({2}, torch::kDouble);
  ParameterAverage average({{"w", w}}, 0.9);
  EXPECT_DOUBLE_EQ(average.decay_at(1), 2.0 / 11.0);  // TF's warm-up: min(decay, (1 + n) / (10 + n))
  EXPECT_DOUBLE_EQ(average.decay_at(1000), 0.9);
  double expected = 0;
  for (int64_t n = 1; n <= 30; ++n) {
    w.fill_(static_cast<double>(n));
    average.update(n);
    expected = average.decay_at(n) * expected + (1 - average.decay_at(n)) * static_cast<double>(n);
  }
  const auto saved = average.named_averages();
  ASSERT_EQ(saved.count("average.w"), 1u);
  EXPECT_NEAR(saved.at("average.w")[0].item<double>(), expected, 1e-12);
  {
    const ParameterAverage::Applied applied(average);
    EXPECT_NEAR(w[1].item<double>(), expected, 1e-12);
  }
  EXPECT_EQ(w[0].item<double>(), 30.0);  // the trained value is back
  EXPECT_CONTAINS(testing::error_of([] { ParameterAverage({}, 1.0); }), "decay must be in (0, 1)");
}

// Averaging changes what validation sees and what is kept, never the training itself.
TEST(TrainingLoop, AParameterAverageIsValidatedWhileTrainingGoesOnFromTheTrainedWeights) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  auto o = toy_options(tmp.path() / "plain");
  o.patience = 100;
  NoisyTask plain;
  const auto a = run_training(plain, o, self);
  o = toy_options(tmp.path() / "averaged");
  o.patience = 100;
  o.average_decay = 0.8;
  NoisyTask averaged;
  const auto b = run_training(averaged, o, self);
  EXPECT_TRUE(torch::equal(plain.weights(), averaged.weights()));
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) EXPECT_EQ(a.curve[i].train_loss, b.curve[i].train_loss) << i;
  EXPECT_EQ(a.curve[0].metrics.at("score"), b.curve[0].metrics.at("score"));  // nothing averaged yet
  EXPECT_NE(a.curve.back().metrics.at("score"), b.curve.back().metrics.at("score"));
  // The saved state holds the average beside the parameters.
  const auto saved = load_safetensors(newest_saved_state(o.state_dir) + "/parameters.safetensors");
  EXPECT_EQ(saved.count("average.w"), 1u);
  EXPECT_TRUE(torch::equal(saved.at("w"), averaged.weights()));
}

TEST(TrainingLoop, NonFiniteStepsAreSkippedAndTooManyStopTheRun) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  auto o = toy_options(tmp.path());
  o.max_bad_steps = 3;
  {
    ArmedFault armed("nan@step=5-6");  // two in a row: skipped, training goes on
    LeastSquaresTask task(0, 20);
    const auto result = run_training(task, o, self);
    EXPECT_EQ(result.steps, 30);
    EXPECT_EQ(result.skipped_steps, 2);
    EXPECT_TRUE(std::isfinite(result.curve.back().metrics.at("score")));
    EXPECT_TRUE(std::isfinite(result.curve.back().train_loss));
  }
  o = toy_options(tmp.path() / "diverged");
  o.max_bad_steps = 3;
  o.checkpoint_interval = 2;
  ArmedFault armed("nan@step=7-100");
  LeastSquaresTask task(0, 20);
  const auto message = testing::error_of([&] { run_training(task, o, self); });
  EXPECT_CONTAINS(message, "3 steps in a row (steps 7-9)");
  EXPECT_CONTAINS(message, "toy.max_bad_steps = 3");
  // The last checkpoint is the one before the bad steps' first update could have happened, and finite.
  const auto kept = newest_saved_state(o.state_dir);
  EXPECT_CONTAINS(message, kept);
  const auto w = load_safetensors(kept + "/parameters.safetensors").at("w");
  EXPECT_TRUE(torch::isfinite(w).all().item<bool>());
  EXPECT_TRUE(torch::equal(w, task.parameters()[0].detach()));  // skipped steps change nothing
}

TEST(TrainingLoop, ADamagedStateNamesTheFileAndTheWayOut) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  auto o = toy_options(tmp.path());
  o.checkpoint_interval = 5;
  LeastSquaresTask task(0, 20);
  run_training(task, o, self);
  const auto newest = newest_saved_state(o.state_dir);
  {
    std::ofstream damaged(newest + "/optimizer.safetensors", std::ios::trunc);
    damaged << "not an archive";
  }
  LeastSquaresTask again(0, 20);
  o.max_steps = 40;
  const auto message = testing::error_of([&] { run_training(again, o, self); });
  EXPECT_CONTAINS(message, newest + "/optimizer.safetensors: ");
  EXPECT_CONTAINS(message, "delete " + newest + " to resume from step 25");
  EXPECT_EQ(message.find("PytorchStreamReader"), std::string::npos) << "no LibTorch internals: " << message;
  {
    std::ofstream damaged(newest + "/state.json", std::ios::trunc);
    damaged << "{";
  }
  EXPECT_CONTAINS(testing::error_of([&] { run_training(again, o, self); }), newest + "/state.json: not valid JSON");
  // A tensor of another shape (the model changed) names the tensor.
  std::filesystem::remove_all(newest);
  save_safetensors(newest_saved_state(o.state_dir) + "/parameters.safetensors",
                   {{"w", torch::zeros({3}, torch::kDouble)}});
  EXPECT_CONTAINS(testing::error_of([&] { run_training(again, o, self); }), "w");
}

TEST(TrainingLoop, AnEarlyStoppedRunStaysStopped) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  auto o = toy_options(tmp.path());
  o.max_steps = 0;  // only early stopping ends it
  o.patience = 2;
  o.lr.lr = 0;  // parameters never move: no validation after the first is better
  LeastSquaresTask frozen(0, 20);
  const auto stopped = run_training(frozen, o, self);
  ASSERT_TRUE(stopped.early_stopped);
  EXPECT_EQ(stopped.steps, 20);  // validations at 0 (best), 10, 20 (two without improvement)
  LeastSquaresTask again(0, 20);
  const auto restarted = run_training(again, o, self);
  EXPECT_TRUE(restarted.early_stopped);
  EXPECT_EQ(restarted.steps_run, 0);
  EXPECT_EQ(again.loss_calls, 0);
  // Raising the patience continues it, by one validation interval.
  o.patience = 3;
  LeastSquaresTask more(0, 20);
  const auto continued = run_training(more, o, self);
  EXPECT_EQ(continued.steps_run, o.val_interval);
  EXPECT_TRUE(continued.early_stopped);
}

TEST(TrainingLoop, WarmupDecaySchedulesAreHuggingFaces) {
  const LrSchedule s{LrScheduleKind::kLinearWarmupDecay, 1e-3, 4, 12};
  EXPECT_DOUBLE_EQ(s.at(0), 0.0);  // HF steps the scheduler after the update: the first one is at 0
  EXPECT_DOUBLE_EQ(s.at(2), 0.5e-3);
  EXPECT_DOUBLE_EQ(s.at(4), 1e-3);
  EXPECT_DOUBLE_EQ(s.at(8), 0.5e-3);
  EXPECT_DOUBLE_EQ(s.at(12), 0.0);
  EXPECT_DOUBLE_EQ(s.at(20), 0.0);
  // The ranker's default rates, bit for bit as earlier releases computed them (checkpoints stay equal).
  const LrSchedule ranker{LrScheduleKind::kLinearWarmupDecay, 1e-4, 100, 3000};
  for (int64_t step = 0; step < 3000; ++step) {
    const double expected =
        step < 100 ? 1e-4 * (static_cast<double>(step) / 100.0) : 1e-4 * (static_cast<double>(3000 - step) / 2900.0);
    ASSERT_EQ(ranker.at(step), expected) << step;
  }
  const LrSchedule cosine{LrScheduleKind::kCosineWarmupDecay, 1e-3, 4, 12};
  EXPECT_DOUBLE_EQ(cosine.at(0), 0.0);
  EXPECT_DOUBLE_EQ(cosine.at(2), 0.5e-3);
  EXPECT_DOUBLE_EQ(cosine.at(4), 1e-3);
  EXPECT_NEAR(cosine.at(6), 1e-3 * 0.5 * (1 + std::sqrt(0.5)), 1e-15);  // a quarter of the way: cos(pi/4)
  EXPECT_NEAR(cosine.at(8), 0.5e-3, 1e-15);
  EXPECT_NEAR(cosine.at(12), 0.0, 1e-15);
  EXPECT_NEAR(cosine.at(20), 0.0, 1e-15);  // stays at 0 past the end (HF's cosine would rise again)
  const LrSchedule c{LrScheduleKind::kConstant, 2e-3, 0, 0};
  EXPECT_DOUBLE_EQ(c.at(0), 2e-3);
  EXPECT_DOUBLE_EQ(c.at(1000), 2e-3);
}

TEST(TrainingLoopMultiRank, TwoRanksEqualOneRankAndEmptyStepsKeepRanksInStep) {
  LLAMAREC_REQUIRE_WORLD(2);
  MpiCommunicator world(MPI_COMM_WORLD);
  TempDir tmp;
  // Rank 0 owns 3 of 20 examples: with a global batch of 4 it has nothing in many steps.
  const int64_t first = world.rank() == 0 ? 0 : 3, count = world.rank() == 0 ? 3 : 17;
  LeastSquaresTask multi(first, count);
  const auto shared = std::filesystem::path(LLAMAREC_BINARY_DIR) / "test_tmp" / "trainer_two_ranks";
  if (world.rank() == 0) {
    std::filesystem::remove_all(shared);
    std::filesystem::create_directories(shared);
  }
  world.barrier();
  const auto a = run_training(multi, toy_options(shared), world);
  MpiCommunicator self(MPI_COMM_SELF);
  LeastSquaresTask single(0, 20);
  const auto b = run_training(single, toy_options(tmp.path()), self);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) {
    EXPECT_NEAR(a.curve[i].train_loss, b.curve[i].train_loss, 1e-12) << i;
    EXPECT_NEAR(a.curve[i].metrics.at("score"), b.curve[i].metrics.at("score"), 1e-12) << i;
  }
  EXPECT_EQ(multi.loss_calls + multi.empty_steps, 30);
  if (world.rank() == 0) {
    EXPECT_GT(multi.empty_steps, 0);
  }
  world.barrier();
}

// Ranks that would resume differently fail together before training, naming why: a rank whose
// identity differs from rank 0's (another config, or a node's copy of an input that is another
// file), or a state directory that not every rank sees (run.dir on a node-local disk).
TEST(TrainingLoopMultiRank, RanksThatWouldResumeDifferentlyFailTogether) {
  LLAMAREC_REQUIRE_WORLD(2);
  MpiCommunicator world(MPI_COMM_WORLD);
  TempDir tmp;
  const auto shared = std::filesystem::path(LLAMAREC_BINARY_DIR) / "test_tmp" / "trainer_disagree";
  if (world.rank() == 0) {
    std::filesystem::remove_all(shared);
    std::filesystem::create_directories(shared);
  }
  world.barrier();
  const int64_t first = world.rank() * 10;
  auto o = toy_options(shared);
  o.max_steps = 10;
  {
    LeastSquaresTask task(first, 10);
    EXPECT_EQ(run_training(task, o, world).steps, 10);
  }

  auto other = o;
  other.max_steps = 20;
  if (world.rank() == 1) other.identity["toy.version"] = "2";
  LeastSquaresTask a(first, 10);
  const auto identity_error = testing::error_of([&] { run_training(a, other, world); });
  EXPECT_CONTAINS(identity_error, world.rank() == 1 ? "this rank's training identity differs from rank 0's: "
                                                      "toy.version = 1 on rank 0, 2 here"
                                                    : "another rank's training identity differs from rank 0's");

  // Rank 1 looks for the states in a directory of its own, where rank 0 never wrote.
  auto local = o;
  local.max_steps = 20;
  if (world.rank() == 1) local.state_dir = (tmp / "toy.state").string();
  LeastSquaresTask b(first, 10);
  const auto step_error = testing::error_of([&] { run_training(b, local, world); });
  EXPECT_CONTAINS(step_error, world.rank() == 0
                                  ? "ranks disagree on resuming (this rank: step 10, another: no saved state)"
                                  : "ranks disagree on resuming (this rank: no saved state, another: step 10)");
  EXPECT_CONTAINS(step_error, "a filesystem all nodes share");

  // Agreeing ranks resume as before.
  auto more = o;
  more.max_steps = 20;
  LeastSquaresTask c(first, 10);
  const auto resumed = run_training(c, more, world);
  EXPECT_EQ(resumed.steps, 20);
  EXPECT_EQ(resumed.steps_run, 10);
  world.barrier();
}

}  // namespace
}  // namespace llamarec

namespace llamarec {
namespace {

// The guard behind LLAMAREC_REQUIRE_WORLD: only listed suites count as running on 2 ranks.
TEST(MultiRankSuiteList, NamesExactlyTheListedSuites) {
  EXPECT_TRUE(testing::runs_on_two_ranks("TrainingLoopMultiRank"));
  EXPECT_TRUE(testing::runs_on_two_ranks("RetrieverTrainingMultiRank"));
  EXPECT_FALSE(testing::runs_on_two_ranks("TrainingLoop"));
  EXPECT_FALSE(testing::runs_on_two_ranks("LoopMultiRank"));
  EXPECT_FALSE(testing::runs_on_two_ranks(""));
}

}  // namespace
}  // namespace llamarec
