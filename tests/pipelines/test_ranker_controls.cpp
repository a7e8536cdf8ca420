// The ranker's order controls: seeded candidate orders, scoring a user's prompts in several orders
// with the history computed once (a shared KV cache) against independent forwards, and the methods
// built on the letter logits (averages over orders, contextual calibration, fusion, bias profile).
#include <gtest/gtest.h>

#include <set>

#include "core/candidates_file.h"
#include "core/sequence_dataset.h"
#include "distributed/mpi_communicator.h"
#include "pipelines/candidate_orders.h"
#include "pipelines/config.h"
#include "pipelines/ranker_controls.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/ranker_setup.h"
#include "tests/pipelines/synthetic_dataset.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;

TEST(CandidateOrders, SeededPermutationsThatDifferByUserAndSplit) {
  const auto a = shuffled_orders(42, Split::kTest, 7, 20, 4);
  ASSERT_EQ(a.size(), 4u);
  for (const auto& order : a) EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 20u);
  EXPECT_EQ(a, shuffled_orders(42, Split::kTest, 7, 20, 4));
  EXPECT_EQ(shuffled_orders(42, Split::kTest, 7, 20, 2)[1], a[1]) << "the k-th shuffle does not depend on K";
  EXPECT_NE(a[0], a[1]);
  EXPECT_NE(a[0], shuffled_orders(42, Split::kVal, 7, 20, 1)[0]);
  EXPECT_NE(a[0], shuffled_orders(42, Split::kTest, 8, 20, 1)[0]);
  EXPECT_NE(a[0], shuffled_orders(43, Split::kTest, 7, 20, 1)[0]);
  // Slot s showed candidate order[s]: its score goes back to that candidate.
  const CandidateOrder order = {2, 0, 1};
  EXPECT_TRUE(
      slots_to_candidates(torch::tensor({10.0f, 20.0f, 30.0f}), order).equal(torch::tensor({20.0f, 30.0f, 10.0f})));
}

// Three examples of C = 4 candidates, answer at candidate 1, under the retriever's order and two others.
ScoredExamples three_examples(const torch::Tensor& logits) {
  ScoredExamples s;
  s.logits = logits;
  s.orders = std::vector<std::vector<CandidateOrder>>(3, {{0, 1, 2, 3}, {1, 0, 3, 2}, {3, 2, 1, 0}});
  s.answers = torch::tensor({1, 1, 1}, torch::kLong);
  s.retriever_ranks = torch::tensor({2, 2, 2}, torch::kLong);
  s.retriever_log_probs = torch::tensor({0.0f, 3.0f, 1.0f, 2.0f}).repeat({3, 1}).log_softmax(-1);
  return s;
}

TEST(RankerControls, APureLetterPriorCalibratesToChanceAndAveragesMapBack) {
  MpiCommunicator self(MPI_COMM_SELF);
  // A model that only has a letter prior: slot 0 highest, whatever is shown there.
  const auto bias = torch::tensor({3.0f, 1.0f, 0.0f, -1.0f});
  const auto scored = three_examples(bias.repeat({3, 3, 1}));
  // In retriever order the answer (candidate 1) sits in slot 1: rank 2. In order 1 it is in slot 0: rank 1.
  ScoreMethod retriever_order_only, order_1;
  retriever_order_only.orders = {0};
  order_1.orders = {1};
  EXPECT_DOUBLE_EQ(method_metrics(scored, retriever_order_only, self, {1, 5}).means().at("MRR@5"), 0.5);
  EXPECT_DOUBLE_EQ(method_metrics(scored, order_1, self, {1, 5}).means().at("Recall@1"), 1.0);
  // The prior is softmax(bias); calibration leaves every candidate alike (scores 0).
  const auto prior = letter_log_prior(scored, {0, 1, 2}, self);
  EXPECT_TRUE(torch::allclose(prior, bias.log_softmax(-1), 1e-5, 1e-6));
  ScoreMethod calibrated;
  calibrated.orders = {0, 1, 2};
  calibrated.log_prior = prior;
  EXPECT_LT(method_scores(scored, calibrated).abs().max().item<double>(), 1e-5);
  // The average over orders, mapped back per candidate: candidate j's mean log-probability.
  ScoreMethod mean;
  mean.orders = {0, 1, 2};
  const auto lp = bias.log_softmax(-1);
  const auto expected = (lp + slots_to_candidates(lp, {1, 0, 3, 2}) + slots_to_candidates(lp, {3, 2, 1, 0})) / 3;
  EXPECT_TRUE(torch::allclose(method_scores(scored, mean)[0], expected, 1e-6, 1e-6));
  mean.mean_probabilities = true;
  const auto p = lp.exp();
  const auto expected_p = ((p + slots_to_candidates(p, {1, 0, 3, 2}) + slots_to_candidates(p, {3, 2, 1, 0})) / 3).log();
  EXPECT_TRUE(torch::allclose(method_scores(scored, mean)[0], expected_p, 1e-6, 1e-6));
  // The bias profile: in order 1 the answer is in slot 0 and the top letter is always slot 0.
  const auto profile = slot_profile(scored, 1, self);
  EXPECT_EQ(profile.answers, (std::vector<double>{3, 0, 0, 0}));
  EXPECT_EQ(profile.hits, (std::vector<double>{3, 0, 0, 0}));
  EXPECT_EQ(profile.picks, (std::vector<double>{3, 0, 0, 0}));
}

TEST(RankerControls, FusionWeightIsChosenWhereTheRetrieverHelps) {
  MpiCommunicator self(MPI_COMM_SELF);
  // The ranker scores every letter alike; the retriever ranks candidate 1 (the answer) first.
  const auto scored = three_examples(torch::zeros({3, 3, 4}));
  ScoreMethod method;
  method.orders = {0};
  EXPECT_DOUBLE_EQ(choose_fusion_weight(scored, method, {0.0, 0.5, 2.0}, self), 0.5);
  method.fusion_weight = 0.5;
  EXPECT_DOUBLE_EQ(method_metrics(scored, method, self, {1}).means().at("Recall@1"), 1.0);
  EXPECT_DOUBLE_EQ(retriever_metrics(scored, self, {1}).means().at("Recall@1"), 0.0);
}

// The prompts of one user in several orders share their beginning (instruction and history): run
// once into a KV cache, continued per order, the letter scores equal independent forwards.
TEST(RankerScoring, SharedHistoryPrefixEqualsIndependentForwards) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto dataset = testing::make_synthetic_dataset(tmp / "d.h5", 40, 60, 6, 14);
  const auto ds = SequenceDataset::open(dataset);
  Config c = load_config("", {"ranker.max_history=4", "ranker.max_text_tokens=384", "builtin_llama.hidden_size=32",
                              "builtin_llama.intermediate_size=64", "builtin_llama.num_hidden_layers=2",
                              "builtin_llama.num_attention_heads=2", "builtin_llama.num_key_value_heads=1",
                              "builtin_llama.corpus_prompts=100"});
  c.run.dir = (tmp / "run").string();
  const auto setup = make_ranker_setup(c, self, ds.titles());
  setup.model->apply_lora(c.lora, 3);
  for (auto& p : setup.model->lora_parameters()) p.data().normal_(0, 0.05);  // B != 0: the adapter counts
  const PromptBuilder prompts(*setup.tokenizer, ds.titles(), setup.train_letter_ids, setup.prompt_options);
  std::vector<RankerExample> examples;
  for (auto& e : make_ranker_train_examples(ds, 20, 5)) {
    if (e.history_end < 2 + static_cast<int64_t>(examples.size() % 3)) continue;  // histories of several lengths
    examples.push_back(std::move(e));
    if (examples.size() == 5) break;
  }
  std::vector<std::vector<CandidateOrder>> orders;
  for (const auto& e : examples) {
    auto o = shuffled_orders(9, Split::kTest, ds.global_user(e.local_user), 20, 3);
    o.insert(o.begin(), retriever_order(20));
    orders.push_back(std::move(o));
  }
  const auto shared =
      score_in_orders(*setup.model, prompts, ds, examples, orders, setup.verbalizer_ids, 8, setup.positions, 0, true);
  const auto separate =
      score_in_orders(*setup.model, prompts, ds, examples, orders, setup.verbalizer_ids, 8, setup.positions, 0, false);
  ASSERT_EQ(shared.sizes(), (std::vector<int64_t>{5, 4, 20}));
  EXPECT_LT((shared - separate).abs().max().item<double>(), 1e-4 * separate.abs().max().item<double>());
  EXPECT_GT((shared.select(1, 0) - shared.select(1, 1)).abs().max().item<double>(), 1e-3) << "orders must matter";
  // Order 0 is exactly the plain verbalizer on the retriever's order.
  std::vector<TokenizedPrompt> plain;
  for (const auto& e : examples) plain.push_back(prompts.encode(example_history(ds, e), e.candidates));
  torch::NoGradGuard no_grad;
  const auto direct = verbalizer_scores(*setup.model, collate_prompts(plain), setup.verbalizer_ids, setup.positions);
  EXPECT_LT((separate.select(1, 0) - direct).abs().max().item<double>(), 1e-4 * direct.abs().max().item<double>());
}

}  // namespace
}  // namespace llamarec
