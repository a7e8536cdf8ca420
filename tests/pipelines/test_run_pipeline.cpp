// `llamarec run`: the stage table driven end to end on synthetic data (the retriever stages; the
// ranker ones need a Llama and are covered by test_ranker.cpp): finished stages are skipped, a
// half-done run finishes only what is left, and timings of every invocation are merged.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "distributed/mpi_communicator.h"
#include "pipelines/config.h"
#include "pipelines/config_diff.h"
#include "pipelines/metrics_file.h"
#include "pipelines/run_pipeline.h"
#include "pipelines/stage_record.h"
#include "pipelines/stages.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;
namespace fs = std::filesystem;

Config small_run(const fs::path& dir) {
  Config c = load_config("", {"data.synthetic_users=60", "data.synthetic_items=40", "data.synthetic_max_length=30",
                              "retriever.max_len=20", "retriever.hidden=16", "retriever.batch_size=8",
                              "retriever.val_interval=5", "retriever.max_steps=10", "retriever.eval_batch_size=7"});
  c.run.dir = dir.string();
  return c;
}

std::map<std::string, bool> skipped_by_stage(const std::vector<StageTiming>& timings) {
  std::map<std::string, bool> out;
  for (const auto& t : timings) out[t.stage] = t.skipped;
  return out;
}

TEST(RunPipeline, SkipsFinishedStagesAndMergesTimings) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto c = small_run(tmp / "run");
  const std::vector<std::string> retriever_stages = {"preprocess", "train-retriever", "retrieve", "evaluate-retriever"};

  const auto first = run_pipeline(c, self, {"preprocess", "train-retriever"});
  EXPECT_EQ(skipped_by_stage(first), (std::map<std::string, bool>{{"preprocess", false}, {"train-retriever", false}}));
  EXPECT_TRUE(fs::exists(tmp / "run" / ".done" / "train-retriever"));
  EXPECT_FALSE(fs::exists(tmp / "run" / "candidates.h5"));

  // Stages are run in pipeline order whatever order they are named in; finished ones are skipped.
  const auto second = run_pipeline(c, self, {"evaluate-retriever", "retrieve", "preprocess", "train-retriever"});
  ASSERT_EQ(second.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(second[i].stage, retriever_stages[i]);
  EXPECT_EQ(skipped_by_stage(second),
            (std::map<std::string, bool>{
                {"preprocess", true}, {"train-retriever", true}, {"retrieve", false}, {"evaluate-retriever", false}}));
  const auto metrics_path = c.in_run_dir(c.eval.metrics);
  const auto metrics = read_metrics_file(metrics_path);
  ASSERT_TRUE(metrics.contains("retriever"));
  for (const auto& stage : retriever_stages) EXPECT_TRUE(metrics["timings"].contains(stage)) << stage;
  EXPECT_DOUBLE_EQ(metrics["timings"]["preprocess"].get<double>(), first[0].seconds);

  // A run that stopped inside a stage (no marker) finishes only that stage and those after it.
  fs::remove(tmp / "run" / ".done" / "evaluate-retriever");
  const auto third = run_pipeline(c, self, retriever_stages);
  EXPECT_EQ(skipped_by_stage(third),
            (std::map<std::string, bool>{
                {"preprocess", true}, {"train-retriever", true}, {"retrieve", true}, {"evaluate-retriever", false}}));
  const auto merged = read_metrics_file(metrics_path)["timings"];
  EXPECT_DOUBLE_EQ(merged["retrieve"].get<double>(), second[2].seconds);
  EXPECT_DOUBLE_EQ(merged["evaluate-retriever"].get<double>(), third[3].seconds);
}

TEST(RunPipeline, ARunDirectoryOfAnotherConfigIsAnErrorNamingTheKeys) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto c = small_run(tmp / "run");
  run_pipeline(c, self, {"preprocess", "train-retriever"});
  const auto record = tmp / "run" / ".done" / "train-retriever";
  std::ifstream in(record);
  const std::string recorded(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(recorded.find("\"retriever.dropout\""), std::string::npos) << recorded;
  EXPECT_EQ(recorded.find("ranker."), std::string::npos) << "a ranker key does not change the retriever";

  Config other = c;
  other.retriever.model.dropout = 0.25;
  other.run.seed = 7;
  const auto message = testing::error_of([&] { run_pipeline(other, self, {"preprocess", "train-retriever"}); });
  EXPECT_NE(message.find("preprocess: stage preprocess was done in this run directory with another config: run.seed "
                         "= 42 there, 7 now"),
            std::string::npos)
      << message;
  other.run.seed = c.run.seed;
  const auto dropout = testing::error_of([&] { run_pipeline(other, self, {"train-retriever"}); });
  EXPECT_NE(dropout.find("stage train-retriever was done in this run directory with another config: retriever.dropout "
                         "= 0.2 there, 0.25 now. Use another run.dir, or delete "),
            std::string::npos)
      << dropout;
  // Keys of later stages and keys that change only speed do not matter to finished stages.
  Config faster = c;
  faster.retriever.eval_batch_size = 3;
  faster.ranker.lr = 1e-3;
  const auto again = run_pipeline(faster, self, {"preprocess", "train-retriever"});
  EXPECT_TRUE(again[0].skipped && again[1].skipped);
  // A damaged record is named.
  testing::write_text(tmp / "run" / ".done" / "preprocess", "{ broken");
  EXPECT_NE(testing::error_of([&] { run_pipeline(c, self, {"preprocess"}); }).find("preprocess: damaged stage record"),
            std::string::npos);
}

// Evaluation-only ranker keys belong to evaluate-ranker: changing them re-evaluates a trained
// ranker instead of refusing the run directory.
TEST(StageRecord, AKeyBelongsToTheStageThatNamesItMostSpecifically) {
  const Config c;
  const auto train = stage_config_values(c, "train-ranker");
  const auto evaluate = stage_config_values(c, "evaluate-ranker");
  EXPECT_EQ(train.count("ranker.permutations"), 0u);
  EXPECT_EQ(train.count("ranker.calibrate"), 0u);
  EXPECT_EQ(train.count("ranker.lr"), 1u);
  EXPECT_EQ(train.count("ranker.val_order"), 1u);
  EXPECT_EQ(evaluate.count("ranker.permutations"), 1u);
  EXPECT_EQ(evaluate.count("ranker.lr"), 1u);
  EXPECT_EQ(evaluate.count("ranker.eval_batch_size"), 0u);
}

// A record written before a key existed lacks it: the run directory stays usable while the key
// holds its default (how the older llamarec behaved), and is refused once it does not.
TEST(StageRecord, AKeyAnOlderRecordLacksMatchesAtItsDefault) {
  TempDir tmp;
  const Config c;
  auto older = stage_config_values(c, "train-retriever");
  ASSERT_EQ(older.erase("retriever.lr_schedule"), 1u);
  const auto record = (tmp / "train-retriever").string();
  write_stage_record(record, 1.0, older);
  EXPECT_EQ(stage_record_mismatch(record, "train-retriever", stage_config_values(c, "train-retriever")), "");
  Config cosine = c;
  cosine.retriever.lr_schedule = LrScheduleKind::kCosineWarmupDecay;
  EXPECT_CONTAINS(stage_record_mismatch(record, "train-retriever", stage_config_values(cosine, "train-retriever")),
                  "retriever.lr_schedule = (absent) there, \"cosine\" now");
}

// The rule every record is compared by (stage records, training states): equal values match, a key
// the record lacks matches only at its default, a key only the record has differs.
TEST(ConfigDiff, AbsentKeysMatchOnlyAtTheValueOfTheEarlierBehaviour) {
  const auto defaults = config_values(Config{});
  const ConfigValues recorded = {{"retriever.lr", "0.001"}, {"retriever.gone", "1"}, {"toy.version", "1"}};
  ConfigValues now = {
      {"retriever.lr", "0.001"}, {"retriever.lr_schedule", defaults.at("retriever.lr_schedule")}, {"toy.version", "1"}};
  EXPECT_EQ(differing_config_keys(recorded, now), std::vector<std::string>{"retriever.gone"});
  now["retriever.warmup_steps"] = "10";  // absent there, not at its default now
  now["toy.added"] = "0";                // absent there, and no default to fall back on
  now["retriever.lr"] = "0.002";
  const auto differing = differing_config_keys(recorded, now);
  EXPECT_EQ(differing,
            (std::vector<std::string>{"retriever.gone", "retriever.lr", "retriever.warmup_steps", "toy.added"}));
  EXPECT_EQ(describe_config_difference(differing, recorded, now),
            "retriever.gone = 1 there, (absent) now (and 3 more: retriever.lr, retriever.warmup_steps, toy.added)");
  EXPECT_TRUE(differing_config_keys(now, now).empty());

  // ranker.val_order came with the default `shuffled`; before it, validation was in retriever order,
  // so a record without it matches `retriever`, not the default.
  Config retriever_order;
  retriever_order.ranker.val_order = CandidateOrderChoice::kRetriever;
  const ConfigValues before = {{"ranker.lr", defaults.at("ranker.lr")}};
  const ConfigValues shuffled = {{"ranker.lr", defaults.at("ranker.lr")},
                                 {"ranker.val_order", defaults.at("ranker.val_order")}};
  const ConfigValues in_order = {{"ranker.lr", defaults.at("ranker.lr")},
                                 {"ranker.val_order", config_values(retriever_order).at("ranker.val_order")}};
  EXPECT_EQ(differing_config_keys(before, shuffled), std::vector<std::string>{"ranker.val_order"});
  EXPECT_TRUE(differing_config_keys(before, in_order).empty());
}

TEST(RunPipeline, ARerunStageInvalidatesTheStagesAfterIt) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto c = small_run(tmp / "run");
  run_pipeline(c, self, {"preprocess", "train-retriever", "retrieve"});
  fs::remove(tmp / "run" / ".done" / "train-retriever");
  const auto rerun = run_pipeline(c, self, {"train-retriever"});
  EXPECT_FALSE(rerun[0].skipped);
  EXPECT_TRUE(fs::exists(tmp / "run" / ".done" / "preprocess"));
  EXPECT_FALSE(fs::exists(tmp / "run" / ".done" / "retrieve")) << "candidates of the old retriever are stale";
}

TEST(RunPipeline, UnknownStagesAndBadMetricsFilesAreClearErrors) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto c = small_run(tmp / "run");
  try {
    run_pipeline(c, self, {"train-retreiver"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown stage 'train-retreiver'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "run" / ".done"));  // nothing ran
  // A metrics file that is not JSON is never overwritten.
  testing::write_text(tmp / "run" / "metrics.json", "{ not json");
  try {
    run_pipeline(c, self, {"preprocess"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.json: existing metrics file: not valid JSON (damaged near byte"),
              std::string::npos)
        << e.what();
  }
  std::ifstream in(tmp / "run" / "metrics.json");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "{ not json");
}

TEST(StageTable, EveryStageIsNamedOnceWithADescription) {
  std::set<std::string> names;
  for (const auto& stage : pipeline_stages()) {
    EXPECT_TRUE(names.insert(stage.name).second) << stage.name;
    EXPECT_FALSE(stage.description.empty()) << stage.name;
    EXPECT_TRUE(stage.run) << stage.name;
  }
  EXPECT_EQ(pipeline_stage_names().front(), "preprocess");
  EXPECT_THROW(find_stage("nope"), Error);
}

}  // namespace
}  // namespace llamarec
