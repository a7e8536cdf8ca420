// metrics.jsonl (ScalarLog), the run report drawn from it, and `llamarec info` on a run's artefacts.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/candidates_file.h"
#include "core/safetensors.h"
#include "pipelines/artifact_info.h"
#include "pipelines/metrics_file.h"
#include "pipelines/run_report.h"
#include "pipelines/training/scalar_log.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;

std::vector<nlohmann::json> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(ScalarLog, ResumingDropsTheStepsOfItsStageAfterTheResumedOne) {
  TempDir tmp;
  const auto path = (tmp / "metrics.jsonl").string();
  {
    ScalarLog r(path, "retriever", 0, true);
    for (int s = 1; s <= 5; ++s) r.step(s, 0, 1.0 / s, 1e-3, 0.5, s * 0.1);
    r.validation(5, {{"Recall@10", 0.4}}, 0.3, true, 0.6);
  }
  {
    ScalarLog k(path, "ranker", 0, true);
    k.step(1, 0, std::nan(""), 1e-4, 2.0, 0.1);  // a skipped step: null, not NaN
  }
  // The retriever resumes from step 3: steps 4, 5 and the validation at 5 go; the ranker's stay.
  {
    ScalarLog r(path, "retriever", 3, true);
    r.step(4, 0, 0.2, 1e-3, 0.5, 0.4);
  }
  ScalarLog disabled(path, "retriever", 0, false);  // other ranks: no effect on the file
  disabled.step(99, 0, 0, 0, 0, 0);
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[2].at("step"), 3);
  EXPECT_EQ(lines[3].at("stage"), "ranker");
  EXPECT_TRUE(lines[3].at("loss").is_null());
  EXPECT_EQ(lines[4].at("step"), 4);
  EXPECT_DOUBLE_EQ(lines[4].at("loss").get<double>(), 0.2);
}

TEST(RunReport, WritesMarkdownCsvAndPlots) {
  TempDir tmp;
  const auto metrics = (tmp / "metrics.json").string();
  update_metrics_file(metrics, "retriever", {{"users", 10}, {"test", {{"Recall@10", 0.5}, {"NDCG@10", 0.25}}}});
  const auto m = [](double v) {
    return nlohmann::json{{"Recall@5", v}, {"Recall@10", v}, {"NDCG@5", v}, {"NDCG@10", v}, {"MRR@10", v}};
  };
  update_metrics_file(metrics, "ranker",
                      {{"users", 10},
                       {"subset_users", 5},
                       {"subset", m(0.4)},
                       {"retriever_subset", m(0.5)},
                       {"random_subset", m(0.2277)},
                       {"base_model", "builtin"}});
  update_metrics_file(metrics, "timings", {{"train-retriever", 3.5}, {"preprocess", 0.1}});
  {
    ScalarLog r((tmp / "metrics.jsonl").string(), "retriever", 0, true);
    r.validation(0, {{"Recall@10", 0.0}, {"NDCG@10", 0.0}, {"MRR@10", 0.0}}, 0.0, true, 0.0);
    for (int s = 1; s <= 4; ++s) r.step(s, 0, 2.0 / s, 1e-3, 0.5, s * 0.1);
    r.validation(4, {{"Recall@10", 0.5}, {"NDCG@10", 0.3}, {"MRR@10", 0.2}}, 0.7, true, 0.5);
  }
  const auto out = tmp / "report";
  const auto md_path = write_run_report({metrics, (tmp / "metrics.jsonl").string(), out.string()});
  std::ifstream in(md_path);
  std::stringstream md;
  md << in.rdbuf();
  EXPECT_CONTAINS(md.str(), "| LlamaRec ranker, valid subset | 0.4000 | 0.4000 | 0.4000 | 0.4000 | 0.4000 |");
  EXPECT_CONTAINS(md.str(), "| train-retriever | 3.5 |");
  EXPECT_CONTAINS(md.str(), "![retriever loss](retriever_loss.png)");
  std::ifstream train(out / "retriever_train.csv");
  std::string header, first;
  std::getline(train, header);
  std::getline(train, first);
  EXPECT_EQ(header, "step,loss,lr,grad_norm,seconds");
  EXPECT_EQ(first, "1,2,0.001,0.5,0.1");
  EXPECT_TRUE(std::filesystem::exists(out / "retriever_val.csv"));
  EXPECT_TRUE(std::filesystem::exists(out / "plots.gp"));
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    for (const auto* png : {"retriever_loss.png", "retriever_validation.png", "results.png", "stage_times.png"})
      EXPECT_GT(std::filesystem::file_size(out / png), 1000u) << png;
  }
  EXPECT_CONTAINS(testing::error_of([&] {
                    write_run_report({(tmp / "none.json").string(), "", out.string()});
                  }),
                  "none.json: no metrics file");
}

}  // namespace
}  // namespace llamarec

namespace llamarec {
namespace {

TEST(ArtifactInfo, RunDirectoryCandidatesAndUnknownPaths) {
  TempDir tmp;
  const auto run = tmp / "run";
  testing::write_text(run / ".done" / "preprocess", "0.1 s\n");
  update_metrics_file((run / "metrics.json").string(), "timings", {{"preprocess", 0.1}});
  const auto info = artifact_info(run.string());
  EXPECT_CONTAINS(info, "run directory");
  EXPECT_CONTAINS(info, "preprocess           done in 0.1s");
  EXPECT_CONTAINS(info, "train-ranker         -");

  // Users 0..3, k = 2: the answer first, second, absent, first.
  Candidates c;
  c.k = 2;
  c.num_users = 4;
  c.num_items = 9;
  for (auto* split : {&c.val, &c.test}) {
    split->user = torch::arange(4, torch::kLong);
    split->items = torch::tensor({1, 2, 3, 4, 5, 6, 7, 8}, torch::kLong).view({4, 2});
    split->scores = torch::zeros({4, 2});
    split->label = torch::tensor({1, 4, 9, 7}, torch::kLong);
  }
  const auto path = (tmp / "candidates.h5").string();
  write_candidates(path, c);
  const auto text = artifact_info(path);
  EXPECT_CONTAINS(text, "top 2 of 9 items, 4 users");
  EXPECT_CONTAINS(text, "answer in the top 1: 0.5000");
  EXPECT_EQ(text.find(" 5: "), std::string::npos) << "k = 2: no top-5 share";

  // A training state's parameters file: the averaged copies are not counted as parameters.
  const auto state = (tmp / "parameters.safetensors").string();
  save_safetensors(state, {{"w", torch::zeros({2, 3})}, {"b", torch::zeros({4})}, {"average.w", torch::zeros({2, 3})}});
  EXPECT_CONTAINS(artifact_info(state), "3 tensors, 10 parameters (and their moving averages, average.*: 6)");

  // A training state directory: its steps, where the newest stands, and the identity it resumes on.
  const auto steps = tmp / "toy.state";
  for (const int64_t step : {100, 200}) {
    const auto dir = steps / fmt::format("step-{:08d}", step);
    save_safetensors((dir / "parameters.safetensors").string(), {{"w", torch::zeros({2, 3})}});
    save_safetensors((dir / "generators.safetensors").string(), {{"generators", torch::zeros({2, 5}, torch::kUInt8)}});
    testing::write_text(dir / "state.json",
                        fmt::format(R"({{"step": {}, "best_metric": 0.25, "best_step": 100, "bad_validations": 1,
                                        "elapsed": 75, "identity_values": {{"run.seed": "42",
                                        "input.dataset": "{{\"bytes\":3}}"}}}})",
                                    step));
  }
  const auto state_text = artifact_info(steps.string());
  EXPECT_CONTAINS(state_text, "training state, 2 saved (step-00000200, step-00000100)");
  EXPECT_CONTAINS(state_text, "step 200 | best 0.2500 at step 100 | 1 validations without improvement | 1m15s trained");
  EXPECT_CONTAINS(state_text, "saved by 2 rank(s)");
  EXPECT_CONTAINS(state_text, "6 parameters");
  EXPECT_CONTAINS(state_text, "    input.dataset = {\"bytes\":3}\n    run.seed = 42\n");

  EXPECT_CONTAINS(testing::error_of([&] { artifact_info((tmp / "nothing").string()); }), "no such file or directory");
  std::filesystem::create_directories(tmp / "empty");
  EXPECT_CONTAINS(testing::error_of([&] { artifact_info((tmp / "empty").string()); }), "not a run directory");
  testing::write_text(tmp / "notes.txt", "x");
  EXPECT_CONTAINS(testing::error_of([&] { artifact_info((tmp / "notes.txt").string()); }), "not a llamarec artefact");
}

}  // namespace
}  // namespace llamarec
