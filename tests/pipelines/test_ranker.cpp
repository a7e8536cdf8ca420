// The ranker: prompt text and tokens exactly as LlamaRec builds them, training and evaluation
// examples, and training, resume, PEFT adapter output and 2-rank = 1-rank for training and
// evaluation on the built-in tiny Llama (and on ../shared's stories260K where present).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "core/candidates_file.h"
#include "pipelines/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/sequence_dataset.h"
#include "core/sequence_dataset_writer.h"
#include "core/tokenizer.h"
#include "distributed/mpi_communicator.h"
#include "pipelines/evaluate_ranker.h"
#include "pipelines/metrics_file.h"
#include "pipelines/preprocess.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_prompt.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/ranker_setup.h"
#include "pipelines/score_prompts.h"
#include "pipelines/train_ranker.h"
#include "pipelines/training/checkpointer.h"
#include "tests/pipelines/synthetic_dataset.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;
using ::llamarec::testing::write_test_dataset;

TEST(RankerPrompt, TextAndTokensAreLlamaRecs) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/llama2-tokenizer/tokenizer.model");
  const Tokenizer tok(shared_path.string());
  const std::vector<std::string> titles = {"", "Pan's Labyrinth (2006)", "Cinderella (1997)", "BASEketball (1998)"};
  const auto letters = letter_token_ids(tok, candidate_letters(3));
  const PromptBuilder prompts(tok, titles, letters);
  const auto text = prompts.text({1, 2}, {3, 1, 2});
  EXPECT_EQ(text,
            "### Instruction:\nGiven user history in chronological order, recommend an item from the candidate pool "
            "with its index letter.\n\n### Input:\nUser history: (1) Pan's Labyrinth (2006) \n (2) Cinderella (1997); "
            "\n Candidate pool: (A) BASEketball (1998) \n (B) Pan's Labyrinth (2006) \n (C) Cinderella (1997)\n\n"
            "### Response:\n");
  const auto eval = prompts.encode({1, 2}, {3, 1, 2});
  ASSERT_GT(eval.ids.size(), 10u);
  EXPECT_EQ(eval.ids[0], 1);       // BOS
  EXPECT_EQ(eval.ids[1], 835);     // "▁###"
  EXPECT_EQ(eval.ids.back(), 13);  // "\n": the verbalizer reads the next token's logits here
  const auto train = prompts.encode_train({1, 2}, {3, 1, 2}, 2);
  ASSERT_EQ(train.ids.size(), eval.ids.size() + 2);
  EXPECT_EQ(std::vector<int64_t>(train.ids.begin(), train.ids.end() - 2), eval.ids);
  EXPECT_EQ(train.ids[train.ids.size() - 2], 29907);  // "C" as it follows "\n"
  EXPECT_EQ(train.ids.back(), 2);                     // EOS
  // Appending the letter id equals tokenizing prompt + letter, as the reference does.
  auto whole = tok.encode(text + "C", true);
  whole.push_back(2);
  EXPECT_EQ(whole, train.ids);
  // Only the last 20 history items are shown, numbered from 1.
  std::vector<int32_t> long_history(25, 1);
  long_history[5] = 2;
  const auto shown = prompts.text(long_history, {3});
  EXPECT_NE(shown.find("(1) Cinderella (1997)"), std::string::npos);
  EXPECT_EQ(shown.find("(21)"), std::string::npos);
}

TEST(RankerPrompt, TruncationKeepsBosAndTheAnswerEnd) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/llama2-tokenizer/tokenizer.model");
  const Tokenizer tok(shared_path.string());
  std::string long_title;
  for (int i = 0; i < 60; ++i) long_title += "word" + std::to_string(i) + " ";
  const std::vector<std::string> titles = {"", long_title, "Short (1999)"};
  PromptOptions options;
  options.max_text_tokens = 80;
  const PromptBuilder prompts(tok, titles, letter_token_ids(tok, candidate_letters(2)), options);
  // Titles cut to 32 tokens.
  EXPECT_EQ(tok.encode(prompts.title(1)).size(), 32u);
  EXPECT_EQ(prompts.title(2), "Short (1999)");
  const auto eval = prompts.encode({1, 1}, {2, 1});
  EXPECT_TRUE(eval.truncated);
  EXPECT_EQ(eval.ids.size(), 80u);
  EXPECT_EQ(eval.ids[0], 1);
  EXPECT_EQ(eval.ids.back(), 13);
  const auto train = prompts.encode_train({1, 1}, {2, 1}, 1);
  EXPECT_EQ(train.ids.size(), 81u);  // 80 with the letter, then EOS (as the reference's collate)
  EXPECT_EQ(train.ids[0], 1);
  const auto short_prompt = prompts.encode({}, {2});
  ASSERT_LT(short_prompt.ids.size(), 80u);
  const int64_t pad = 80 - static_cast<int64_t>(short_prompt.ids.size());
  const auto batch = collate_prompts({eval, short_prompt});
  EXPECT_EQ(batch.input_ids.size(1), 80);
  EXPECT_EQ(batch.attention_mask[0].sum().item<int64_t>(), 80);
  EXPECT_EQ(batch.attention_mask[1].sum().item<int64_t>(), 80 - pad);
  EXPECT_EQ(batch.input_ids[1][79].item<int64_t>(), 13);  // left padding: every prompt ends last
  EXPECT_EQ(batch.input_ids[1][pad - 1].item<int64_t>(), 0);
  EXPECT_EQ(batch.input_ids[1][pad].item<int64_t>(), 1);
}

TEST(RankerExamples, TrainingPrefixesWithDistinctNegativesOutsideThePrefix) {
  TempDir tmp;
  const auto path = (tmp / "d.h5").string();
  write_test_dataset(path, {{1, 2, 3, 4, 5, 6, 7}, {10, 11, 12, 13, 14}, {3, 3, 9, 8, 2, 1}}, 30);
  const auto ds = SequenceDataset::open(path);
  const auto ex = make_ranker_train_examples(ds, 20, 42);
  ASSERT_EQ(ex.size(), 4u + 2u + 3u);  // sum over users of (|train| - 1)
  for (const auto& e : ex) {
    const auto train = ds.train_items(e.local_user);
    const int64_t target = train[e.history_end];
    ASSERT_EQ(e.candidates.size(), 20u);
    EXPECT_EQ(e.candidates[e.answer], target);
    EXPECT_EQ(std::set<int64_t>(e.candidates.begin(), e.candidates.end()).size(), 20u);
    std::set<int64_t> prefix(train.begin(), train.begin() + e.history_end);
    for (const auto c : e.candidates) {
      EXPECT_TRUE(c == target || !prefix.count(c)) << c;
      EXPECT_GE(c, 1);
      EXPECT_LE(c, 30);
    }
  }
  EXPECT_EQ(ex[0].history_end, 1);
  EXPECT_EQ(ex[3].history_end, 4);
  // Deterministic in the seed, different across seeds; answer letters vary.
  const auto again = make_ranker_train_examples(ds, 20, 42);
  const auto other = make_ranker_train_examples(ds, 20, 43);
  std::set<int64_t> answers;
  for (size_t i = 0; i < ex.size(); ++i) {
    EXPECT_EQ(ex[i].candidates, again[i].candidates);
    answers.insert(ex[i].answer);
  }
  EXPECT_NE(ex[0].candidates, other[0].candidates);
  EXPECT_GT(answers.size(), 3u);
  // Too few items for the candidate pool: a clear error.
  write_test_dataset((tmp / "small.h5").string(), {{1, 2, 3, 4, 5}}, 6);
  EXPECT_THROW(make_ranker_train_examples(SequenceDataset::open((tmp / "small.h5").string()), 20, 1), Error);
}

Candidates handmade_candidates(const SequenceDataset& ds, int64_t k) {
  // User u's list: the label at position u % (k+1) (k means "not retrieved").
  Candidates c;
  c.k = k;
  c.num_users = ds.num_users();
  c.num_items = ds.num_items();
  for (auto* part : {&c.val, &c.test}) {
    const bool val = part == &c.val;
    std::vector<int64_t> users, labels, items;
    for (int64_t u = 0; u < ds.num_users(); ++u) {
      const auto ex = ds.example(u, val ? Split::kVal : Split::kTest);
      users.push_back(u);
      labels.push_back(ex.target);
      const int64_t pos = u % (k + 1);
      int64_t filler = 1;
      for (int64_t j = 0; j < k; ++j) {
        if (j == pos) {
          items.push_back(ex.target);
          continue;
        }
        while (filler == ex.target) ++filler;
        items.push_back(filler++);
      }
    }
    part->user = torch::tensor(users, torch::kLong);
    part->label = torch::tensor(labels, torch::kLong);
    part->items = torch::tensor(items, torch::kLong).view({-1, k});
    part->scores = torch::zeros({ds.num_users(), k});
  }
  return c;
}

TEST(RankerExamples, EvaluationUsesTheValidRetrievalSubsetInRetrieverOrder) {
  TempDir tmp;
  const auto path = (tmp / "d.h5").string();
  std::vector<std::vector<int32_t>> users;
  for (int u = 0; u < 12; ++u) users.push_back({u % 5 + 20, 21, 22, 23, u + 30});
  write_test_dataset(path, users, 50);
  const auto ds = SequenceDataset::open(path);
  const auto cands = handmade_candidates(ds, 5);
  const auto test = make_ranker_eval_examples(ds, cands, Split::kTest, 5);
  ASSERT_EQ(test.size(), 10u);  // users 5 and 11 were not retrieved
  for (const auto& e : test) {
    EXPECT_EQ(e.answer, e.local_user % 6);
    EXPECT_EQ(e.retriever_rank, e.answer + 1);
    EXPECT_EQ(e.candidates[e.answer], ds.items(e.local_user)[4]);
    EXPECT_EQ(e.history_end, 4);
  }
  const auto val = make_ranker_eval_examples(ds, cands, Split::kVal, 5);
  EXPECT_EQ(val.front().history_end, 3);
  // Only the first num_candidates count: with 3, positions 3 and 4 are misses.
  EXPECT_EQ(make_ranker_eval_examples(ds, cands, Split::kTest, 3).size(), 6u);
}

// /train rows for every training prefix, row p holding the target at position p % (k+1) (k = missed).
void add_handmade_train_candidates(Candidates& c, const SequenceDataset& ds) {
  std::vector<int64_t> users, ends, labels, items;
  for (int64_t u = 0; u < ds.num_users(); ++u) {
    const auto train = ds.train_items(u);
    for (int64_t i = 2; i <= train.size; ++i) {
      const int64_t target = train[i - 1], pos = static_cast<int64_t>(users.size()) % (c.k + 1);
      users.push_back(u);
      ends.push_back(i - 1);
      labels.push_back(target);
      int64_t filler = 1;
      for (int64_t j = 0; j < c.k; ++j) {
        if (j == pos) {
          items.push_back(target);
          continue;
        }
        while (filler == target) ++filler;
        items.push_back(filler++);
      }
    }
  }
  const auto n = static_cast<int64_t>(users.size());
  c.train.user = torch::tensor(users, torch::kLong);
  c.train.history_end = torch::tensor(ends, torch::kLong);
  c.train.label = torch::tensor(labels, torch::kLong);
  c.train.items = torch::tensor(items, torch::kLong).view({n, c.k});
  c.train.scores = -torch::arange(n * c.k, torch::kFloat32).view({n, c.k});
}

TEST(RankerExamples, TrainingInRetrieverOrderUsesTheRetrieversCandidatesOfEachPrefix) {
  TempDir tmp;
  const auto path = (tmp / "d.h5").string();
  std::vector<std::vector<int32_t>> users;
  for (int u = 0; u < 12; ++u) users.push_back({u % 5 + 20, 21, 22, 23, u + 30, 40, 41});  // train = 5 items
  write_test_dataset(path, users, 50);
  const auto ds = SequenceDataset::open(path);
  auto cands = handmade_candidates(ds, 5);
  add_handmade_train_candidates(cands, ds);
  // The file keeps /train and its prefix lengths.
  write_candidates((tmp / "c.h5").string(), cands);
  const auto read = read_candidates((tmp / "c.h5").string());
  ASSERT_TRUE(read.has_train());
  EXPECT_TRUE(torch::equal(read.train.items, cands.train.items));
  EXPECT_TRUE(torch::equal(read.train.history_end, cands.train.history_end));

  const int64_t prefixes = 12 * 4;  // prefixes i = 2..5 of each user
  const auto random = make_ranker_train_examples(ds, 5, 7);
  ASSERT_EQ(static_cast<int64_t>(random.size()), prefixes);
  // random with candidates given is the default, example for example.
  const auto random_too = make_ranker_train_examples(ds, 5, 7, TrainOrderChoice::kRandom, &read);
  for (size_t i = 0; i < random.size(); ++i) EXPECT_EQ(random[i].candidates, random_too[i].candidates);

  const auto retriever = make_ranker_train_examples(ds, 5, 7, TrainOrderChoice::kRetriever, &read);
  EXPECT_EQ(static_cast<int64_t>(retriever.size()), prefixes - prefixes / 6);  // rows with p % 6 == 5 missed
  for (const auto& e : retriever) {
    const int64_t row = e.local_user * 4 + (e.history_end - 1);
    const auto top = read.train.items[row];
    EXPECT_EQ(e.candidates, std::vector<int64_t>(top.data_ptr<int64_t>(), top.data_ptr<int64_t>() + 5));
    EXPECT_EQ(e.answer, row % 6);
    EXPECT_EQ(e.retriever_rank, e.answer + 1);
    EXPECT_EQ(e.candidates[e.answer], ds.train_items(e.local_user)[e.history_end]);
    EXPECT_FLOAT_EQ(e.retriever_scores[0], read.train.scores[row][0].item<float>());
  }
  // mix: every prefix, some in retriever order and some random; the same seed, the same examples.
  const auto mix = make_ranker_train_examples(ds, 5, 7, TrainOrderChoice::kMix, &read);
  ASSERT_EQ(static_cast<int64_t>(mix.size()), prefixes);
  int64_t in_retriever_order = 0;
  for (const auto& e : mix) in_retriever_order += e.retriever_rank > 0 ? 1 : 0;
  EXPECT_GT(in_retriever_order, 8);
  EXPECT_LT(in_retriever_order, 36);
  const auto mix_again = make_ranker_train_examples(ds, 5, 7, TrainOrderChoice::kMix, &read);
  for (size_t i = 0; i < mix.size(); ++i) EXPECT_EQ(mix[i].candidates, mix_again[i].candidates);

  // Without /train, or with rows of another dataset: errors that say what to do.
  const auto without = handmade_candidates(ds, 5);
  EXPECT_NE(testing::error_of([&] {
              make_ranker_train_examples(ds, 5, 7, TrainOrderChoice::kMix, &without, "c.h5");
            }).find("c.h5: no retriever candidates for the training prefixes (/train): run retrieve again"),
            std::string::npos);
  auto shifted = read;
  shifted.train.history_end = shifted.train.history_end + 1;
  EXPECT_NE(testing::error_of([&] {
              make_ranker_train_examples(ds, 5, 7, TrainOrderChoice::kRetriever, &shifted);
            }).find("/train rows do not match the training prefixes"),
            std::string::npos);
}

// ---- training and evaluation: the built-in tiny Llama (always) and stories260K (with ../shared) ----

std::string make_synthetic(const std::filesystem::path& path) {
  return testing::make_synthetic_dataset(path, 40, 60, 6, 14);
}

// `model` empty: the built-in base, kept small (2 layers) so that the tests stay fast.
Config ranker_config(const std::filesystem::path& dir, const std::string& dataset, const std::string& candidates,
                     const std::filesystem::path& model = {}) {
  Config c = load_config(
      "", {"ranker.batch_size=4", "ranker.eval_batch_size=3", "ranker.max_steps=8", "ranker.val_interval=4",
           "ranker.warmup_steps=2", "ranker.lr=2e-3", "ranker.max_history=4", "ranker.max_text_tokens=384",
           "ranker.val_users=9", "lora.dropout=0", "builtin_llama.hidden_size=32", "builtin_llama.intermediate_size=64",
           "builtin_llama.num_hidden_layers=2", "builtin_llama.num_attention_heads=2",
           "builtin_llama.num_key_value_heads=1", "builtin_llama.corpus_prompts=100"});
  c.run.dir = dir.string();
  c.data.dataset = dataset;
  c.retrieval.candidates = candidates;
  c.ranker.model = model.string();
  return c;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// `llamarec score` on the first 4 test users: its letter logits are the evaluation's in retriever
// order (batched there with a shared prefix and padding, one prompt per forward here: equal up to
// rounding), and its loss is the label-only loss of the same prompts with the answers appended.
void check_scored_prompts(const Config& c, Communicator& comm, const std::string& adapter) {
  TempDir tmp;
  ScorePromptsOptions options;
  options.users = 4;
  options.output = (tmp / "scores.json").string();
  run_score_prompts(c, comm, options);
  const auto scored = read_json(options.output);
  EXPECT_EQ(scored.at("adapter"), adapter);
  EXPECT_EQ(scored.at("dtype"), "Float");
  const auto& records = scored.at("prompts");
  ASSERT_EQ(records.size(), 4u);

  const auto shard = SequenceDataset::open(c.in_run_dir(c.data.dataset));
  const auto candidates = read_ranker_candidates(c.in_run_dir(c.retrieval.candidates), shard, 20);
  auto examples = make_ranker_eval_examples(shard, candidates, Split::kTest, 20);
  examples.resize(4);
  auto setup = make_ranker_setup(c, comm, shard.titles());
  setup.model->load_adapter(adapter);
  const PromptBuilder prompts(*setup.tokenizer, shard.titles(), setup.train_letter_ids, setup.prompt_options);
  const std::vector<std::vector<CandidateOrder>> orders(examples.size(), {retriever_order(20)});
  const auto logits = score_in_orders(*setup.model, prompts, shard, examples, orders, setup.verbalizer_ids, 3,
                                      setup.positions);  // [4, 1, 20]
  std::vector<TokenizedPrompt> train;
  double loss_sum = 0;
  for (size_t i = 0; i < 4; ++i) {
    const auto& r = records[i];
    EXPECT_EQ(r.at("user").get<int64_t>(), shard.global_user(examples[i].local_user));
    EXPECT_EQ(r.at("answer_slot").get<int64_t>(), examples[i].answer);
    const auto scores = torch::tensor(r.at("letter_scores").get<std::vector<float>>());
    EXPECT_TRUE(torch::allclose(scores, logits[static_cast<int64_t>(i)][0], 1e-4, 1e-4)) << i;
    // The training prompt is the evaluation prompt + letter + EOS; when the letter makes it too long,
    // left truncation (BOS kept) drops one more token of its beginning.
    const auto input = r.at("input_ids").get<std::vector<int64_t>>();
    const auto ids = r.at("train_ids").get<std::vector<int64_t>>();
    const size_t dropped = r.at("train_truncated").get<bool>() ? 1 : 0;
    ASSERT_EQ(ids.size(), input.size() + 2 - dropped);
    EXPECT_EQ(ids[0], input[0]);
    EXPECT_EQ(ids[ids.size() - 2], setup.train_letter_ids[static_cast<size_t>(examples[i].answer)]);
    EXPECT_EQ(ids.back(), setup.tokenizer->eos_id());
    EXPECT_EQ(std::vector<int64_t>(ids.begin() + 1, ids.end() - 2),
              std::vector<int64_t>(input.begin() + 1 + dropped, input.end()))
        << i;
    train.push_back({ids});
    loss_sum += r.at("loss").get<double>();
  }
  torch::NoGradGuard no_grad;
  const double batched = ranker_loss_sum(*setup.model, collate_prompts(train), false, setup.positions).item<double>();
  EXPECT_NEAR(loss_sum, batched / 2.0, 1e-4 * batched);

  // The base alone scores differently from the trained adapter.
  options.adapter = "none";
  run_score_prompts(c, comm, options);
  const auto base = read_json(options.output);
  EXPECT_EQ(base.at("adapter"), "none");
  EXPECT_NE(base.at("prompts")[0].at("letter_scores"), records[0].at("letter_scores"));
}

// Trains 8 steps, checks the PEFT adapter, resumes to 12, evaluates against the handmade retriever.
void train_resume_and_evaluate(const std::filesystem::path& model, int64_t layers) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto dataset = make_synthetic(tmp / "d.h5");
  const auto ds = SequenceDataset::open(dataset);
  write_candidates((tmp / "c.h5").string(), handmade_candidates(ds, 20));
  auto c = ranker_config(tmp / "run", dataset, (tmp / "c.h5").string(), model);
  const auto result = train_ranker(c, self);
  ASSERT_EQ(result.curve.size(), 3u);  // steps 0, 4, 8
  EXPECT_EQ(result.steps, 8);
  EXPECT_LT(result.curve[2].train_loss, result.curve[1].train_loss);
  const auto adapter = std::filesystem::path(c.in_run_dir(c.ranker.adapter));
  ASSERT_TRUE(std::filesystem::exists(adapter / "adapter_config.json"));
  const SafetensorsCheckpoint saved((adapter / "adapter_model.safetensors").string());
  EXPECT_TRUE(saved.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(
      saved.contains(fmt::format("base_model.model.model.layers.{}.self_attn.v_proj.lora_B.weight", layers - 1)));
  EXPECT_EQ(saved.names().size(), static_cast<size_t>(layers) * 2 * 2);  // layers x {q, v} x {A, B}

  // Resume with a higher limit continues from the saved state (schedule over the new total).
  c.ranker.max_steps = 12;
  const auto resumed = train_ranker(c, self);
  EXPECT_EQ(resumed.steps, 12);
  ASSERT_EQ(resumed.curve.size(), 4u);
  EXPECT_EQ(resumed.curve[2].step, 8);

  const auto m = run_evaluate_ranker(c, self);
  const int64_t users = ds.num_users();
  EXPECT_EQ(m.users, users);
  int64_t retrieved = 0;
  for (int64_t u = 0; u < users; ++u) retrieved += (u % 21) < 20 ? 1 : 0;  // position 20 = not in the top 20
  EXPECT_EQ(m.subset_users, retrieved);
  EXPECT_NEAR(m.ranker_overall.at("NDCG@10"),
              m.ranker_subset.at("NDCG@10") * static_cast<double>(m.subset_users) / static_cast<double>(users), 1e-12);
  // The handmade retriever puts the answer at position u % 21: its metrics follow exactly.
  double recall5 = 0;
  for (int64_t u = 0; u < users; ++u) recall5 += (u % 21) < 5 ? 1 : 0;
  EXPECT_NEAR(m.retriever_subset.at("Recall@5"), recall5 / m.subset_users, 1e-12);
  // metrics.json records the base that was loaded and the chance level beside the ranker.
  const auto metrics = read_metrics_file(c.in_run_dir(c.eval.metrics)).at("ranker");
  EXPECT_EQ(metrics.at("base_model"), model.empty() ? c.in_run_dir(c.builtin_llama.dir) : model.string());
  EXPECT_NEAR(metrics.at("random_subset").at("Recall@10").get<double>(), 0.5, 1e-12);

  // The controls on the same users: the default method is the retriever order, and the bias
  // profile counts every user once.
  std::map<std::string, RankerControl> controls;
  for (const auto& control : m.controls) controls[control.name] = control;
  for (const auto* name : {"retriever_order", "shuffled", "retriever_order_calibrated", "shuffled_calibrated", "fused"})
    EXPECT_EQ(controls.count(name), 1u) << name;
  EXPECT_EQ(controls.at("retriever_order").subset, m.ranker_subset);
  EXPECT_NE(controls.at("shuffled").subset, m.ranker_subset);
  EXPECT_GT(m.ranker_subset_se.at("NDCG@10"), 0.0);
  const auto& profile = metrics.at("slot_profile").at("shuffled");
  double answers = 0, picks = 0;
  for (const auto& v : profile.at("answers")) answers += v.get<double>();
  for (const auto& v : profile.at("picks")) picks += v.get<double>();
  EXPECT_EQ(answers, static_cast<double>(m.subset_users));
  EXPECT_EQ(picks, static_cast<double>(m.subset_users));
  EXPECT_EQ(metrics.at("letter_prior_on_val").size(), 20u);
  // K = 3 permutations: the headline is the mean over the shuffles, and shuffle 1 is the shuffled control.
  Config permuted = c;
  permuted.ranker.permutations = 3;
  permuted.ranker.calibrate = true;
  const auto p = run_evaluate_ranker(permuted, self);
  std::map<std::string, RankerControl> pc;
  for (const auto& control : p.controls) pc[control.name] = control;
  EXPECT_EQ(p.ranker_subset, pc.at("permutations_calibrated").subset);
  for (const auto& [k, v] : controls.at("shuffled").subset) EXPECT_DOUBLE_EQ(pc.at("shuffled").subset.at(k), v) << k;
  EXPECT_EQ(pc.count("permutations_probability_mean"), 1u);

  check_scored_prompts(c, self, adapter.string());

  // Candidates retrieved again under the same path are other training data: the finished run on the
  // old ones does not stand for a run on them, which starts over (it resumed at step 12 before).
  auto reordered = handmade_candidates(ds, 20);
  for (auto* part : {&reordered.val, &reordered.test}) part->items = part->items.flip(1).contiguous();
  write_candidates((tmp / "c.h5").string(), reordered);
  EXPECT_EQ(train_ranker(c, self).steps_run, 12);
  EXPECT_EQ(train_ranker(c, self).steps_run, 0);  // and that run, finished, is resumed as such
}

TEST(RankerTraining, BuiltinBaseLearnsSavesAPeftAdapterResumesAndEvaluates) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  train_resume_and_evaluate({}, 2);
}

TEST(RankerTraining, Stories260KLearnsSavesAPeftAdapterResumesAndEvaluates) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/stories260K-hf/config.json");
  train_resume_and_evaluate(shared_path.parent_path(), 5);
}

// The same prompts through the unquantized and the NF4 base (ranker.quantization): the mean
// label-only loss and the 20 letter scores of 8 prompts.
struct Nf4Change {
  double loss = 0;             // |loss_nf4 - loss| / loss
  double mean_score = 0;       // mean |score change| / the scores' standard deviation
  double max_score = 0;        // largest |score change| / standard deviation
  double same_top_letter = 0;  // share of prompts whose highest-scored letter is unchanged
};

Nf4Change nf4_change(const std::filesystem::path& model) {
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto dataset = make_synthetic(tmp / "d.h5");
  const auto ds = SequenceDataset::open(dataset);
  write_candidates((tmp / "c.h5").string(), handmade_candidates(ds, 20));
  auto c = ranker_config(tmp / "run", dataset, (tmp / "c.h5").string(), model);
  const auto none = make_ranker_setup(c, self, ds.titles());
  c.ranker.quantization = WeightQuantization::kNf4;
  const auto nf4 = make_ranker_setup(c, self, ds.titles());
  EXPECT_LT(nf4.model->resident_base_bytes(), none.model->resident_base_bytes());
  const PromptBuilder prompts(*none.tokenizer, ds.titles(), none.train_letter_ids, none.prompt_options);
  std::vector<TokenizedPrompt> train, eval;
  for (const auto& e : make_ranker_train_examples(ds, 20, 1)) {
    if (train.size() == 8) break;
    train.push_back(prompts.encode_train(example_history(ds, e), e.candidates, e.answer));
    eval.push_back(prompts.encode(example_history(ds, e), e.candidates));
  }
  torch::NoGradGuard no_grad;
  const auto loss = [&](const RankerSetup& s) {
    return ranker_loss_sum(*s.model, collate_prompts(train), false, s.positions).item<double>() / 16;
  };
  const auto scores = [&](const RankerSetup& s) {
    return verbalizer_scores(*s.model, collate_prompts(eval), s.verbalizer_ids, s.positions);  // [8, 20]
  };
  const double loss_none = loss(none), loss_nf4 = loss(nf4);
  const auto scores_none = scores(none), scores_nf4 = scores(nf4);
  const auto change = (scores_nf4 - scores_none).abs() / scores_none.std();
  Nf4Change out;
  out.loss = std::fabs(loss_nf4 - loss_none) / loss_none;
  out.mean_score = change.mean().item<double>();
  out.max_score = change.max().item<double>();
  out.same_top_letter = scores_nf4.argmax(1).eq(scores_none.argmax(1)).to(torch::kFloat64).mean().item<double>();
  std::cout << "nf4 vs none: loss " << loss_none << " -> " << loss_nf4 << "; letter-score change in standard "
            << "deviations: mean " << out.mean_score << ", max " << out.max_score << "; top letter unchanged in "
            << out.same_top_letter * 100 << " % of prompts\n";
  return out;
}

// Tolerances: about twice what was measured (builtin: loss +0.04 %, scores mean 0.02 / max 0.06 sd,
// top letter kept in 8 of 8 prompts; stories260K: loss +1.3 %, scores mean 0.26 / max 0.81 sd, top
// letter kept in 6 of 8).
// NF4's error is about 10 % of a weight's magnitude (tests/models/test_nf4.cpp); a 64-wide model
// has one absmax block per row and no averaging over thousands of inputs, so it moves more.
// Each change at most its bound; the top letter kept at least as often. And a change at all: the
// nf4 base must not be the unquantized one.
void expect_within(const Nf4Change& got, const Nf4Change& bound) {
  EXPECT_GT(got.loss, 0.0);
  EXPECT_GT(got.mean_score, 0.0);
  EXPECT_LT(got.loss, bound.loss);
  EXPECT_LT(got.mean_score, bound.mean_score);
  EXPECT_LT(got.max_score, bound.max_score);
  EXPECT_GE(got.same_top_letter, bound.same_top_letter);
}

TEST(RankerNf4, BuiltinBaseLossAndLetterScoresNearTheUnquantizedOnes) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  expect_within(nf4_change({}), {0.001, 0.05, 0.12, 0.75});
}

TEST(RankerNf4, Stories260KLossAndLetterScoresNearTheUnquantizedOnes) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/stories260K-hf/config.json");
  expect_within(nf4_change(shared_path.parent_path()), {0.03, 0.5, 1.6, 0.5});
}

TEST(RankerTraining, AnEarlyStoppedRunStaysStopped) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto dataset = make_synthetic(tmp / "d.h5");
  write_candidates((tmp / "c.h5").string(), handmade_candidates(SequenceDataset::open(dataset), 20));
  auto c = ranker_config(tmp / "run", dataset, (tmp / "c.h5").string());
  c.ranker.max_steps = 0;
  c.ranker.patience = 1;
  c.ranker.warmup_steps = 1000;  // the warmup keeps the lr at ~0: validation 8 is no better than 4
  c.ranker.lr = 1e-12;
  const auto stopped = train_ranker(c, self);
  ASSERT_TRUE(stopped.early_stopped);
  // Step 0 is the untrained baseline, never the best: the first best is step 4.
  EXPECT_EQ(stopped.steps, 2 * c.ranker.val_interval);
  EXPECT_EQ(stopped.best_step, c.ranker.val_interval);
  const auto again = train_ranker(c, self);
  EXPECT_TRUE(again.early_stopped);
  EXPECT_EQ(again.steps_run, 0);
  EXPECT_EQ(again.curve.size(), stopped.curve.size());
}

TEST(RankerTrainingMultiRank, TwoRanksEqualOneRank) {
  LLAMAREC_REQUIRE_WORLD(2);
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  MpiCommunicator world(MPI_COMM_WORLD);
  TempDir tmp;
  const auto dataset = make_synthetic(tmp / "d.h5");
  const auto ds = SequenceDataset::open(dataset);
  write_candidates((tmp / "c.h5").string(), handmade_candidates(ds, 20));
  const auto shared_run = std::filesystem::path(LLAMAREC_BINARY_DIR) / "test_tmp" / "ranker_two_ranks";
  if (world.rank() == 0) {
    std::filesystem::remove_all(shared_run);
    std::filesystem::create_directories(shared_run);
  }
  world.barrier();
  // The built-in base, built once by each run's rank 0: the same seed gives the same bytes.
  auto multi = ranker_config(shared_run, dataset, (tmp / "c.h5").string());
  auto single = ranker_config(tmp / "single", dataset, (tmp / "c.h5").string());
  const auto a = train_ranker(multi, world);
  MpiCommunicator self(MPI_COMM_SELF);
  const auto b = train_ranker(single, self);
  world.barrier();  // rank 0's last state file is complete before anyone reads it
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) {
    EXPECT_NEAR(a.curve[i].train_loss, b.curve[i].train_loss, 1e-4) << i;
    EXPECT_NEAR(a.curve[i].metrics.at("NDCG@10"), b.curve[i].metrics.at("NDCG@10"), 1e-6) << i;
  }
  const SafetensorsCheckpoint la(newest_saved_state(multi.in_run_dir(multi.ranker.adapter) + ".state") +
                                 "/parameters.safetensors");
  const SafetensorsCheckpoint lb(newest_saved_state(single.in_run_dir(single.ranker.adapter) + ".state") +
                                 "/parameters.safetensors");
  ASSERT_EQ(la.names(), lb.names());
  for (const auto& name : la.names()) EXPECT_TRUE(torch::allclose(la.load(name), lb.load(name), 1e-4, 1e-5)) << name;
  const auto ma = run_evaluate_ranker(multi, world);
  // Every rank evaluates alone too: each writes its own metrics file (not the shared run's).
  Config alone = multi;
  alone.eval.metrics = (tmp / "alone_metrics.json").string();
  const auto mb = run_evaluate_ranker(alone, self);
  EXPECT_EQ(ma.subset_users, mb.subset_users);
  for (const auto& [k, v] : mb.ranker_subset) EXPECT_NEAR(ma.ranker_subset.at(k), v, 1e-6) << k;
  for (const auto& [k, v] : mb.retriever_subset) EXPECT_DOUBLE_EQ(ma.retriever_subset.at(k), v) << k;
  ASSERT_EQ(ma.controls.size(), mb.controls.size());
  for (size_t i = 0; i < ma.controls.size(); ++i) {
    for (const auto& [k, v] : mb.controls[i].subset) EXPECT_NEAR(ma.controls[i].subset.at(k), v, 1e-6) << k;
  }
  // `llamarec score` on the sharded base gives the single-process letter logits.
  ScorePromptsOptions options;
  options.users = 3;
  options.output = (tmp / fmt::format("scores_np2_rank{}.json", world.rank())).string();
  run_score_prompts(multi, world, options);
  if (world.rank() == 0) {
    options.output = (tmp / "scores_np1.json").string();
    run_score_prompts(alone, self, options);
    const auto sa = read_json((tmp / "scores_np2_rank0.json").string()).at("prompts");
    const auto sb = read_json((tmp / "scores_np1.json").string()).at("prompts");
    ASSERT_EQ(sa.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(sa[i].at("input_ids"), sb[i].at("input_ids"));
      EXPECT_TRUE(torch::allclose(torch::tensor(sa[i].at("letter_scores").get<std::vector<float>>()),
                                  torch::tensor(sb[i].at("letter_scores").get<std::vector<float>>()), 1e-5, 1e-5));
      EXPECT_NEAR(sa[i].at("loss").get<double>(), sb[i].at("loss").get<double>(), 1e-5);
    }
  }
}

}  // namespace
}  // namespace llamarec
