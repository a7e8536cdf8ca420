// The built-in ranker base: built once from the config and the titles, loadable as any HF Llama,
// reused when nothing changed, refused (naming the directory) when something did.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/sequence_dataset.h"
#include "core/tokenizer.h"
#include "distributed/mpi_communicator.h"
#include "models/llama_config.h"
#include "pipelines/builtin_llama.h"
#include "pipelines/config.h"
#include "tests/pipelines/synthetic_dataset.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;

Config small_builtin(const std::filesystem::path& run_dir) {
  Config c = load_config("", {"builtin_llama.hidden_size=32", "builtin_llama.intermediate_size=64",
                              "builtin_llama.num_hidden_layers=2", "builtin_llama.num_attention_heads=2",
                              "builtin_llama.num_key_value_heads=1", "builtin_llama.corpus_prompts=50"});
  c.run.dir = run_dir.string();
  return c;
}

TEST(BuiltinLlama, CorpusHasEveryTitleAndNoNewline) {
  TempDir tmp;
  const auto ds = SequenceDataset::open(testing::make_synthetic_dataset(tmp / "d.h5", 30, 40, 5, 10));
  const auto c = small_builtin(tmp / "run");
  const auto corpus = builtin_tokenizer_corpus(c, ds.titles());
  const auto& titles = ds.titles();
  ASSERT_GE(titles.size(), 10u);
  ASSERT_GE(corpus.size(), titles.size() - 1 + 50);
  for (size_t i = 1; i < titles.size(); ++i) EXPECT_EQ(corpus[i - 1], titles[i]);
  bool has_pool = false, has_answer_header = false;
  for (const auto& s : corpus) {
    EXPECT_EQ(s.find('\n'), std::string::npos);
    has_pool = has_pool || s.find("Candidate pool: (A) ") != std::string::npos;
    has_answer_header = has_answer_header || s == "### Response:";
  }
  EXPECT_TRUE(has_pool);
  EXPECT_TRUE(has_answer_header);
  EXPECT_EQ(corpus, builtin_tokenizer_corpus(c, ds.titles()));  // seeded
  auto other_seed = c;
  other_seed.run.seed += 1;
  EXPECT_NE(corpus, builtin_tokenizer_corpus(other_seed, ds.titles()));
}

TEST(BuiltinLlama, BuiltOnceReusedAndRefusedForAnotherConfig) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  TempDir tmp;
  MpiCommunicator self(MPI_COMM_SELF);
  const auto ds = SequenceDataset::open(testing::make_synthetic_dataset(tmp / "d.h5", 30, 40, 5, 10));
  auto c = small_builtin(tmp / "run");
  const auto dir = ensure_builtin_llama(c, self, ds.titles());
  EXPECT_EQ(dir, (tmp / "run" / "builtin_llama").string());
  const auto config = load_llama_config(dir);
  const Tokenizer tok(dir + "/tokenizer.model");
  EXPECT_EQ(config.vocab_size, tok.vocab_size());
  EXPECT_LE(tok.vocab_size(), c.builtin_llama.vocab_size);
  EXPECT_EQ(config.hidden_size, 32);
  EXPECT_EQ(config.num_hidden_layers, 2);
  EXPECT_EQ(config.num_key_value_heads, 1);
  EXPECT_EQ(letter_token_ids(tok, candidate_letters(20)).size(), 20u);
  const SafetensorsCheckpoint weights(dir + "/model.safetensors");
  EXPECT_EQ(weights.names().size(), llama_tensor_specs(config).size());
  for (const auto& title : {ds.titles()[1], ds.titles().back()}) EXPECT_EQ(tok.decode(tok.encode(title)), title);

  // The same config and titles: reused as it is.
  const auto written = std::filesystem::last_write_time(dir + "/model.safetensors");
  EXPECT_EQ(ensure_builtin_llama(c, self, ds.titles()), dir);
  EXPECT_EQ(std::filesystem::last_write_time(dir + "/model.safetensors"), written);

  // Another seed, model size or catalogue: an error that names the directory and the remedy.
  auto bigger = c;
  bigger.builtin_llama.hidden_size = 64;
  auto message = testing::error_of([&] { ensure_builtin_llama(bigger, self, ds.titles()); });
  EXPECT_CONTAINS(message, "built for another config or dataset");
  EXPECT_CONTAINS(message, "delete " + dir);
  auto titles = ds.titles();
  titles[3] += " (Director's Cut)";
  EXPECT_CONTAINS(testing::error_of([&] { ensure_builtin_llama(c, self, titles); }), "another config or dataset");

  // A directory that is not a built-in Llama is never overwritten.
  auto elsewhere = c;
  elsewhere.builtin_llama.dir = "not_a_model";
  testing::write_text(tmp / "run" / "not_a_model" / "notes.txt", "mine");
  EXPECT_CONTAINS(testing::error_of([&] { ensure_builtin_llama(elsewhere, self, ds.titles()); }),
                  "not a built-in Llama");
  EXPECT_TRUE(std::filesystem::exists(tmp / "run" / "not_a_model" / "notes.txt"));
}

}  // namespace
}  // namespace llamarec
