#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/candidates_file.h"
#include "pipelines/config.h"
#include "pipelines/config_diff.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/sequence_dataset.h"
#include "core/sequence_dataset_writer.h"
#include "distributed/mpi_communicator.h"
#include "pipelines/preprocess.h"
#include "pipelines/retrieve.h"
#include "pipelines/retriever_checkpoint.h"
#include "pipelines/retriever_examples.h"
#include "pipelines/retriever_scoring.h"
#include "pipelines/train_retriever.h"
#include "pipelines/training/checkpointer.h"
#include "pipelines/training/global_batch_plan.h"
#include "pipelines/training/run_identity.h"
#include "tests/pipelines/saved_state_edit.h"
#include "tests/pipelines/synthetic_dataset.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::edit_saved_state;
using ::llamarec::testing::TempDir;
using ::llamarec::testing::write_test_dataset;

TEST(RetrieverExamples, WindowsFollowTheReference) {
  TempDir tmp;
  const auto path = (tmp / "d.h5").string();
  // Train lists (all items but the last two): user 0 -> 1..5 (length 5), user 1 -> 11..17 (length 7).
  write_test_dataset(path, {{1, 2, 3, 4, 5, 90, 91}, {11, 12, 13, 14, 15, 16, 17, 92, 93}}, 100);
  const auto ds = SequenceDataset::open(path);
  const auto ex = make_retriever_examples(ds, 3);
  // 5 < 2*3: the whole list; 7 >= 6: windows [4,7) and [1,4), item 11 (the leftover) dropped.
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_EQ(ex[0].start, 0);
  EXPECT_EQ(ex[0].end, 5);
  EXPECT_EQ(ex[1].start, 1);
  EXPECT_EQ(ex[1].end, 4);
  EXPECT_EQ(ex[2].start, 4);
  EXPECT_EQ(ex[2].end, 7);
  const auto batch = collate_retriever_examples(ds, ex, {0, 2, 1}, 3);
  // Whole list: labels = s[-3:], tokens = s[:-1][-3:].
  EXPECT_TRUE(torch::equal(batch.labels[0], torch::tensor({3, 4, 5}, torch::kLong)));
  EXPECT_TRUE(torch::equal(batch.tokens[0], torch::tensor({2, 3, 4}, torch::kLong)));
  // Window of exactly max_len: the first label is predicted from padding.
  EXPECT_TRUE(torch::equal(batch.labels[1], torch::tensor({15, 16, 17}, torch::kLong)));
  EXPECT_TRUE(torch::equal(batch.tokens[1], torch::tensor({0, 15, 16}, torch::kLong)));
  EXPECT_TRUE(torch::equal(batch.labels[2], torch::tensor({12, 13, 14}, torch::kLong)));
  EXPECT_TRUE(torch::equal(batch.tokens[2], torch::tensor({0, 12, 13}, torch::kLong)));
  EXPECT_TRUE(
      torch::equal(left_padded_window(ds.train_items(0), 7), torch::tensor({0, 0, 1, 2, 3, 4, 5}, torch::kLong)));
}

TEST(RetrieverExamples, GlobalBatchesAreSplitNotChanged) {
  // Two "ranks" owning [0, 7) and [7, 19) see, together, exactly the global batch of one rank.
  GlobalBatchPlan whole(0, 19, 19, 4), first(0, 7, 19, 4), second(7, 12, 19, 4);
  for (auto* p : {&whole, &first, &second}) p->start_epoch(42, 3);
  EXPECT_EQ(whole.steps_per_epoch(), 5);
  std::multiset<int64_t> seen;
  for (int64_t step = 0; step < whole.steps_per_epoch(); ++step) {
    std::set<int64_t> expected, got;
    for (auto i : whole.local_batch(step)) expected.insert(i);
    for (auto i : first.local_batch(step)) got.insert(i);
    for (auto i : second.local_batch(step)) got.insert(i + 7);
    EXPECT_EQ(expected, got);
    seen.insert(expected.begin(), expected.end());
  }
  EXPECT_EQ(seen.size(), 19u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 19u);
  // Another epoch, another order.
  GlobalBatchPlan other(0, 19, 19, 4);
  other.start_epoch(42, 4);
  EXPECT_NE(other.local_batch(0), whole.local_batch(0));
}

// A small learnable synthetic run directory; returns its config.
Config small_config(const std::filesystem::path& dir, const std::string& dataset) {
  Config c = load_config("", {"retriever.max_len=20", "retriever.hidden=16", "retriever.batch_size=8",
                              "retriever.dropout=0", "retriever.attn_dropout=0", "retriever.val_interval=5",
                              "retriever.max_steps=10", "retriever.eval_batch_size=7"});
  c.run.dir = dir.string();
  c.data.dataset = dataset;
  return c;
}

std::string make_synthetic(const std::filesystem::path& path) {
  return testing::make_synthetic_dataset(path, 60, 40, 6, 30);
}

TEST(RetrieverScoring, MetricsDoNotDependOnTheScoringBatch) {
  // Batches are formed in length order and their common padding is skipped: any batch size must
  // give the per-user result (batch 1), and every user is scored once.
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto shard = SequenceDataset::open_shard(make_synthetic(tmp / "d.h5"), 0, 1);
  torch::manual_seed(5);
  LruConfig lc;
  lc.num_items = shard.num_items();
  lc.hidden = 16;
  LruRec model(lc);
  for (const auto split : {Split::kVal, Split::kTest}) {
    ScoringOptions one{split, 20, true, 1};
    const auto per_user = evaluate_retriever(model, shard, one, {1, 5, 10, 20}, self).means();
    for (const int64_t batch : {7, 64}) {
      ScoringOptions o{split, 20, true, batch};
      std::set<int64_t> seen;
      for_each_scored_batch(model, shard, o,
                            [&](const std::vector<int64_t>& users, const torch::Tensor&, const torch::Tensor&) {
                              for (const auto u : users) EXPECT_TRUE(seen.insert(u).second) << u;
                            });
      EXPECT_EQ(static_cast<int64_t>(seen.size()), shard.num_local_users());
      const auto batched = evaluate_retriever(model, shard, o, {1, 5, 10, 20}, self).means();
      for (const auto& [name, value] : per_user)
        EXPECT_NEAR(batched.at(name), value, 1e-12) << name << " batch " << batch;
    }
  }
}

// ranker.train_order = retriever: retrieve also writes the top-20 of every training prefix, in
// (user, prefix) order, each as the prefix's window scored alone gives it; val and test unchanged.
void check_training_prefix_candidates(Config c, const Candidates& without) {
  c.ranker.train_order = TrainOrderChoice::kRetriever;
  MpiCommunicator self(MPI_COMM_SELF);
  run_retrieve(c, self);
  const auto cands = read_candidates(c.in_run_dir(c.retrieval.candidates));
  EXPECT_TRUE(torch::equal(cands.test.items, without.test.items));
  EXPECT_TRUE(torch::equal(cands.val.items, without.val.items));
  ASSERT_TRUE(cands.has_train());
  const auto ds = SequenceDataset::open(c.in_run_dir(c.data.dataset));
  const auto windows = training_prefix_windows(ds);
  ASSERT_EQ(cands.train.user.numel(), static_cast<int64_t>(windows.size()));
  auto model = load_retriever(c.in_run_dir(c.retriever.checkpoint));
  for (size_t p = 0; p < windows.size(); p += 37) {
    const auto& w = windows[p];
    const auto row = static_cast<int64_t>(p);
    EXPECT_EQ(cands.train.user[row].item<int64_t>(), w.user);
    EXPECT_EQ(cands.train.history_end[row].item<int64_t>(), w.history.size);
    EXPECT_EQ(cands.train.label[row].item<int64_t>(), w.target);
    ScoringOptions alone{Split::kVal, c.retriever.max_len, true, 1};
    for_each_scored_window(model, {w}, alone,
                           [&](const std::vector<int64_t>&, const torch::Tensor& scores, const torch::Tensor&) {
                             const auto top = std::get<1>(scores.topk(20, 1))[0];
                             EXPECT_TRUE(torch::equal(top, cands.train.items[row])) << "prefix " << p;
                           });
  }
}

// 60 steps on a synthetic dataset in `tmp`, validated every 20 (steps 0, 20, 40, 60).
Config short_training_config(const TempDir& tmp) {
  Config c = small_config(tmp.path(), make_synthetic(tmp / "d.h5"));
  c.retriever.max_steps = 60;
  c.retriever.val_interval = 20;
  c.retriever.lr = 5e-3;
  return c;
}

TEST(RetrieverTraining, LearnsAndWritesCheckpointCandidatesAndMetrics) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  Config c = short_training_config(tmp);
  const auto result = train_retriever(c, self);
  ASSERT_EQ(result.curve.size(), 4u);  // steps 0, 20, 40, 60
  // Synthetic sequences are predictable: validation Recall@10 must rise well above its start.
  EXPECT_GT(result.best_metric, result.curve.front().metrics.at("Recall@10") + 0.1);
  EXPECT_LT(result.curve.back().train_loss, result.curve[1].train_loss);
  EXPECT_TRUE(std::filesystem::exists(c.in_run_dir(c.retriever.checkpoint)));

  const auto metrics = run_retrieve(c, self);
  const auto cands = read_candidates(c.in_run_dir(c.retrieval.candidates));
  const auto ds = SequenceDataset::open(c.in_run_dir(c.data.dataset));
  EXPECT_EQ(cands.k, 20);
  EXPECT_EQ(cands.test.user.numel(), ds.num_users());
  for (int64_t u = 0; u < ds.num_users(); ++u) {
    EXPECT_EQ(cands.test.user[u].item<int64_t>(), u);
    EXPECT_EQ(cands.test.label[u].item<int64_t>(), ds.items(u)[ds.items(u).size - 1]);
    // Scores sorted, no padding, no item of the input window (the last max_len items of the test
    // input; 40 items leave at least 20 outside any window of 20).
    const auto row = cands.test.items[u];
    EXPECT_TRUE((cands.test.scores[u].slice(0, 1) <= cands.test.scores[u].slice(0, 0, -1)).all().item<bool>());
    const auto input_end = ds.items(u).end() - 1;
    const auto window = std::min<int64_t>(c.retriever.max_len, ds.items(u).size - 1);
    std::set<int64_t> history(input_end - window, input_end);
    for (int64_t j = 0; j < 20; ++j) {
      const auto item = row[j].item<int64_t>();
      EXPECT_GT(item, 0);
      EXPECT_FALSE(history.count(item)) << "user " << u << " item " << item;
    }
  }
  // Recall@20 from the candidate lists equals the exact full-ranking metric.
  const double hits = (cands.test.items == cands.test.label.unsqueeze(1)).any(1).sum().item<double>();
  EXPECT_DOUBLE_EQ(hits / ds.num_users(), metrics.test.at("Recall@20"));
  EXPECT_FALSE(cands.has_train());
  check_training_prefix_candidates(c, cands);

  // The saved identity is the values that shape the trajectory, without the limits. One saved
  // before a key was added (here lr_schedule and warmup_steps, at their defaults) or before the
  // dataset's fingerprint was recorded still resumes.
  const auto state_dir = c.in_run_dir(c.retriever.checkpoint) + ".state";
  edit_saved_state(state_dir, [](nlohmann::json& state) {
    auto& identity = state.at("identity_values");
    EXPECT_TRUE(identity.contains("retriever.dropout"));
    EXPECT_TRUE(identity.contains("run.seed"));
    EXPECT_FALSE(identity.contains("retriever.max_steps"));
    EXPECT_FALSE(identity.contains("ranker.lr"));
    EXPECT_EQ(identity.at("retriever.device"), "\"cpu\"");
    ASSERT_EQ(identity.erase("input.dataset"), 1u);  // as saved before inputs were recorded
    ASSERT_EQ(identity.erase("retriever.lr_schedule"), 1u);
    ASSERT_EQ(identity.erase("retriever.warmup_steps"), 1u);
  });
  // Resume: a second call with a higher limit continues from the saved state (runs only 20 steps)
  // and keeps the curve so far; a third call at the same limit has nothing left to do.
  c.retriever.max_steps = 80;
  const auto resumed = train_retriever(c, self);
  EXPECT_EQ(resumed.steps, 80);
  EXPECT_EQ(resumed.steps_run, 20);
  ASSERT_EQ(resumed.curve.size(), 5u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_DOUBLE_EQ(resumed.curve[i].metrics.at("Recall@10"), result.curve[i].metrics.at("Recall@10")) << i;
  EXPECT_EQ(resumed.curve[4].step, 80);
  const auto again = train_retriever(c, self);
  EXPECT_EQ(again.steps_run, 0);
  EXPECT_EQ(again.curve.size(), 5u);
  // retriever.device = auto is recorded as the device it chose: without CUDA the CPU, whose run it
  // continues rather than restarts.
  if (!torch::cuda::is_available()) {
    c.retriever.device = DeviceChoice::kAuto;
    c.retriever.max_steps = 85;
    EXPECT_EQ(train_retriever(c, self).steps_run, 5);
    c.retriever.device = DeviceChoice::kCpu;
  }

  // A state saved by a release up to c17e43a: its identity was the config's TOML text, comments and
  // all, with the resumable keys at their defaults. It resumes on its values.
  edit_saved_state(state_dir, [&](nlohmann::json& state) {
    Config old_identity;
    old_identity.run.seed = c.run.seed;
    old_identity.data.dataset = c.in_run_dir(c.data.dataset);
    old_identity.retriever = c.retriever;
    const RetrieverConfig defaults;
    old_identity.retriever.epochs = defaults.epochs;
    old_identity.retriever.max_steps = defaults.max_steps;
    old_identity.retriever.patience = defaults.patience;
    old_identity.retriever.checkpoint_interval = defaults.checkpoint_interval;
    old_identity.retriever.max_bad_steps = defaults.max_bad_steps;
    old_identity.retriever.eval_batch_size = defaults.eval_batch_size;
    state.erase("identity_values");
    state["identity"] = config_to_toml(old_identity);
  });
  c.retriever.max_steps = 90;
  EXPECT_EQ(train_retriever(c, self).steps_run, torch::cuda::is_available() ? 10 : 5);

  // An early-stopped run is not continued at the same patience, only when the patience is raised.
  c.retriever.max_steps = 0;
  c.retriever.patience = 1;
  c.retriever.lr = 0;  // parameters never move: the next validation is not better and stops the run
  c.run.dir = (tmp / "stopped").string();
  const auto stopped = train_retriever(c, self);
  ASSERT_TRUE(stopped.early_stopped);
  EXPECT_EQ(train_retriever(c, self).steps_run, 0);
  c.retriever.patience = 2;
  const auto more = train_retriever(c, self);
  EXPECT_EQ(more.steps_run, c.retriever.val_interval);
  EXPECT_EQ(more.curve.size(), stopped.curve.size() + 1);
}

// A state resumes on the same content wherever it lives: the run directory moved elsewhere and the
// dataset copied to another place (a job staging to local scratch) continue the run; the path alone
// decides only for a state saved before fingerprints were recorded.
TEST(RetrieverTraining, AMovedRunOnAStagedCopyOfItsDatasetResumes) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  Config c = short_training_config(tmp);
  c.run.dir = (tmp / "run").string();
  c.retriever.max_steps = 20;
  train_retriever(c, self);
  std::filesystem::rename(tmp / "run", tmp / "moved");
  std::filesystem::create_directories(tmp / "scratch");
  std::filesystem::copy_file(c.data.dataset, tmp / "scratch" / "d.h5");
  c.run.dir = (tmp / "moved").string();
  c.data.dataset = (tmp / "scratch" / "d.h5").string();
  c.retriever.max_steps = 40;
  EXPECT_EQ(train_retriever(c, self).steps_run, 20);

  const auto state_dir = c.in_run_dir(c.retriever.checkpoint) + ".state";
  const auto now = retriever_run_identity(c, torch::kCPU);
  ConfigValues elsewhere = now;
  elsewhere["data.dataset"] = "\"/old/place/d.h5\"";
  EXPECT_TRUE(identity_differences(elsewhere, now).empty());
  elsewhere.erase("input.dataset");  // as saved before inputs were recorded
  EXPECT_EQ(identity_differences(elsewhere, now), std::vector<std::string>{"data.dataset"});
  edit_saved_state(state_dir, [](nlohmann::json& state) {
    auto& identity = state.at("identity_values");
    identity.erase("input.dataset");
    identity["data.dataset"] = "\"/old/place/d.h5\"";
  });
  c.retriever.max_steps = 50;
  EXPECT_EQ(train_retriever(c, self).steps_run, 50);  // started over
}

// What a saved state must match: the device auto chose (without CUDA present: both choices can be
// named), the dataset's content, not the limits.
TEST(RetrieverTraining, TheResumeIdentityRecordsTheChosenDeviceAndTheDatasetsContent) {
  TempDir tmp;
  Config c = short_training_config(tmp);
  c.retriever.device = DeviceChoice::kAuto;
  const auto on_cpu = retriever_run_identity(c, torch::kCPU);
  Config cpu = c;
  cpu.retriever.device = DeviceChoice::kCpu;
  cpu.retriever.max_steps += 100;
  cpu.retriever.patience += 1;
  EXPECT_EQ(retriever_run_identity(cpu, torch::kCPU), on_cpu);
  const auto on_gpu = retriever_run_identity(c, torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(differing_config_keys(on_cpu, on_gpu), std::vector<std::string>{"retriever.device"});
  EXPECT_EQ(on_gpu.at("retriever.device"), "\"cuda\"");

  // The dataset written again under the same path (here: one more byte) is other training data.
  std::ofstream(c.in_run_dir(c.data.dataset), std::ios::app) << '\n';
  EXPECT_EQ(differing_config_keys(on_cpu, retriever_run_identity(c, torch::kCPU)),
            std::vector<std::string>{"input.dataset"});
}

// retriever.select_on and retriever.average_decay: the best is the validation maximum of the chosen
// metric, and the kept checkpoint is the averaged model that was validated, not the trained one.
TEST(RetrieverTraining, SelectsOnTheChosenMetricAndKeepsTheValidatedAverage) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  Config c = short_training_config(tmp);
  c.retriever.select_on = "NDCG@10";
  c.retriever.average_decay = 0.9;
  const auto result = train_retriever(c, self);
  ASSERT_EQ(result.curve.size(), 4u);
  double best = -1;
  int64_t best_step = -1;
  for (const auto& p : result.curve) {
    if (p.metrics.at("NDCG@10") > best) best = p.metrics.at("NDCG@10"), best_step = p.step;
  }
  EXPECT_EQ(result.best_step, best_step);
  EXPECT_DOUBLE_EQ(result.best_metric, best);
  auto kept = load_retriever(c.in_run_dir(c.retriever.checkpoint));
  const auto shard = SequenceDataset::open_shard(c.in_run_dir(c.data.dataset), 0, 1);
  const ScoringOptions val{Split::kVal, c.retriever.max_len, c.retriever.val_exclude_history, 64};
  EXPECT_NEAR(evaluate_retriever(kept, shard, val, {10}, self).means().at("NDCG@10"), best, 1e-6);
  // The trained weights (in the last state, beside their average) are not what was kept.
  const auto state =
      load_safetensors(newest_saved_state(c.in_run_dir(c.retriever.checkpoint) + ".state") + "/parameters.safetensors");
  ASSERT_EQ(state.count("average.embedding.token.weight"), 1u);
  EXPECT_FALSE(torch::equal(state.at("embedding.token.weight"), state.at("average.embedding.token.weight")));
  EXPECT_CONTAINS(testing::error_of([&] { load_config("", {"retriever.select_on=HR@10"}); }), "retriever.select_on");
  EXPECT_CONTAINS(testing::error_of([&] { load_config("", {"retriever.average_decay=1"}); }),
                  "retriever.average_decay");
}

// retriever.lr_schedule reaches the optimizer: each validation records the rate of the step before
// it, the cosine's from warmup to 0 at max_steps.
TEST(RetrieverTraining, FollowsTheConfiguredLearningRateSchedule) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  Config c = short_training_config(tmp);
  c.retriever.lr_schedule = LrScheduleKind::kCosineWarmupDecay;
  c.retriever.warmup_steps = 10;
  const auto result = train_retriever(c, self);
  ASSERT_EQ(result.curve.size(), 4u);
  const LrSchedule expected{LrScheduleKind::kCosineWarmupDecay, c.retriever.lr, 10, c.retriever.max_steps};
  for (size_t i = 1; i < result.curve.size(); ++i)
    EXPECT_DOUBLE_EQ(result.curve[i].lr, expected.at(result.curve[i].step - 1)) << result.curve[i].step;
  EXPECT_LT(result.curve.back().lr, 0.01 * c.retriever.lr);
  EXPECT_GT(result.best_metric, result.curve.front().metrics.at("Recall@10") + 0.1);
  EXPECT_CONTAINS(testing::error_of([&] { load_config("", {"retriever.lr_schedule=step"}); }), "retriever.lr_schedule");
  EXPECT_CONTAINS(testing::error_of([&] { load_config("", {"retriever.warmup_steps=-1"}); }), "retriever.warmup_steps");
}

// retriever.device = cuda: the CPU's training up to rounding (dropout 0; the parallel scan instead
// of the fused one), the scores brought back for the metrics, the CUDA generator in the saved state.
// Without CUDA, an error that names the key.
TEST(RetrieverTraining, TrainsOnCudaAsOnTheCpu) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  Config cpu = short_training_config(tmp);
  cpu.retriever.max_steps = 20;  // short: the two scans' rounding must not compound far
  cpu.retriever.val_interval = 10;
  Config cuda = cpu;
  cuda.run.dir = (tmp / "cuda").string();
  cuda.retriever.device = DeviceChoice::kCuda;
  if (!torch::cuda::is_available()) {
    EXPECT_CONTAINS(testing::error_of([&] { train_retriever(cuda, self); }), "retriever.device");
    GTEST_SKIP() << "no CUDA device";
  }
  const auto a = train_retriever(cpu, self);
  const auto b = train_retriever(cuda, self);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 1; i < a.curve.size(); ++i)
    EXPECT_NEAR(a.curve[i].train_loss, b.curve[i].train_loss, 1e-3 * a.curve[i].train_loss) << i;
  const auto state = [](const Config& c) {
    return newest_saved_state(c.in_run_dir(c.retriever.checkpoint) + ".state");
  };
  const SafetensorsCheckpoint pa(state(cpu) + "/parameters.safetensors");
  const SafetensorsCheckpoint pb(state(cuda) + "/parameters.safetensors");
  ASSERT_EQ(pa.names(), pb.names());
  for (const auto& name : pa.names()) EXPECT_TRUE(torch::allclose(pa.load(name), pb.load(name), 1e-3, 1e-4)) << name;
  const auto ma = run_evaluate_retriever(cpu, self);
  const auto mb = run_evaluate_retriever(cuda, self);
  EXPECT_NEAR(ma.test.at("Recall@10"), mb.test.at("Recall@10"), 0.05);
  EXPECT_EQ(mb.users, ma.users);
  // The CPU generator's state, then the CUDA one's.
  const auto generators = [&](const Config& c) {
    return load_safetensors(state(c) + "/generators.safetensors").at("generators").size(1);
  };
  EXPECT_GT(generators(cuda), generators(cpu));
  run_retrieve(cuda, self);
  EXPECT_EQ(read_candidates(cuda.in_run_dir(cuda.retrieval.candidates)).test.user.numel(), ma.users);
}

TEST(RetrieverTrainingMultiRank, TwoRanksEqualOneRank) {
  LLAMAREC_REQUIRE_WORLD(2);
  MpiCommunicator world(MPI_COMM_WORLD);
  // Every rank writes the same dataset into a directory of its own.
  TempDir tmp;
  const auto dataset = make_synthetic(tmp / "d.h5");
  // The data-parallel run writes (rank 0) into one directory that both ranks read.
  const auto shared = std::filesystem::path(LLAMAREC_BINARY_DIR) / "test_tmp" / "retriever_two_ranks";
  if (world.rank() == 0) {
    std::filesystem::remove_all(shared);
    std::filesystem::create_directories(shared);
  }
  world.barrier();
  Config multi = small_config(shared, dataset);
  Config single = small_config(tmp / "single", dataset);
  const auto a = train_retriever(multi, world);
  MpiCommunicator self(MPI_COMM_SELF);
  const auto b = train_retriever(single, self);
  world.barrier();  // rank 0's last state file is complete before anyone reads it
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) {
    EXPECT_NEAR(a.curve[i].train_loss, b.curve[i].train_loss, 1e-4) << i;
    EXPECT_DOUBLE_EQ(a.curve[i].metrics.at("Recall@10"), b.curve[i].metrics.at("Recall@10")) << i;
  }
  // Final parameters: the last state of both runs.
  const SafetensorsCheckpoint pa(newest_saved_state(multi.in_run_dir(multi.retriever.checkpoint) + ".state") +
                                 "/parameters.safetensors");
  const SafetensorsCheckpoint pb(newest_saved_state(single.in_run_dir(single.retriever.checkpoint) + ".state") +
                                 "/parameters.safetensors");
  ASSERT_EQ(pa.names(), pb.names());
  for (const auto& name : pa.names()) {
    EXPECT_TRUE(torch::allclose(pa.load(name), pb.load(name), 1e-4, 1e-5)) << name;
  }
  // Sharded retrieval metrics equal the single-process ones exactly.
  const auto ma = run_evaluate_retriever(multi, world);
  // Every rank evaluates alone too: each writes its own metrics file (not the shared run's).
  Config alone = multi;
  alone.eval.metrics = (tmp / "alone_metrics.json").string();
  const auto mb = run_evaluate_retriever(alone, self);
  for (const auto& [k, v] : mb.test) EXPECT_DOUBLE_EQ(ma.test.at(k), v) << k;
  for (const auto& [k, v] : mb.val) EXPECT_DOUBLE_EQ(ma.val.at(k), v) << k;
  // The training prefixes' candidates, gathered from the shards, equal the single-process ones.
  multi.ranker.train_order = alone.ranker.train_order = TrainOrderChoice::kMix;
  alone.retrieval.candidates = (tmp / "alone_candidates.h5").string();
  run_retrieve(multi, world);
  run_retrieve(alone, self);
  const auto ca = read_candidates(multi.in_run_dir(multi.retrieval.candidates));
  const auto cb = read_candidates(alone.in_run_dir(alone.retrieval.candidates));
  ASSERT_TRUE(ca.has_train() && cb.has_train());
  EXPECT_TRUE(torch::equal(ca.train.user, cb.train.user));
  EXPECT_TRUE(torch::equal(ca.train.history_end, cb.train.history_end));
  EXPECT_TRUE(torch::equal(ca.train.items, cb.train.items));
  EXPECT_TRUE(torch::allclose(ca.train.scores, cb.train.scores, 1e-5, 1e-5));
}

TEST(RetrieverCheckpoint, MissingAndForeignFilesAreClearErrors) {
  TempDir tmp;
  try {
    load_retriever((tmp / "none.safetensors").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos);
  }
  save_safetensors((tmp / "x.safetensors").string(), {{"w", torch::ones({2})}});
  try {
    load_retriever((tmp / "x.safetensors").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a llamarec retriever"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace llamarec
