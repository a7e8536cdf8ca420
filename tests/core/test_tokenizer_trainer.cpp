// SentencePiece's trainer through the plugin: a Llama-style tokenizer from a few sentences.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/tokenizer.h"
#include "core/tokenizer_trainer.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> corpus() {
  std::vector<std::string> out;
  const std::vector<std::string> words = {"Crimson", "Harbor",    "Lantern", "Golden", "Galaxy",
                                          "Voyage",  "Candidate", "pool:",   "User",   "history:"};
  for (int i = 0; i < 400; ++i) {
    out.push_back(words[i % words.size()] + " " + words[(i * 7 + 3) % words.size()] + " (" +
                  std::string(1, static_cast<char>('A' + i % 20)) + ") " + std::to_string(i % 37));
  }
  return out;
}

TEST(TokenizerTrainer, LlamaStyleModelDeterministicWithLettersAndByteFallback) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  TempDir tmp;
  TokenizerTrainingOptions options;
  options.vocab_size = 400;
  train_tokenizer(corpus(), options, (tmp / "a.model").string());
  train_tokenizer(corpus(), options, (tmp / "b.model").string());
  EXPECT_EQ(read_bytes(tmp / "a.model"), read_bytes(tmp / "b.model"));

  const Tokenizer tok((tmp / "a.model").string());
  EXPECT_LE(tok.vocab_size(), 400);
  EXPECT_GT(tok.vocab_size(), 259);  // 256 bytes + unk/bos/eos, then the corpus' pieces
  EXPECT_EQ(tok.unk_id(), 0);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.pad_id(), -1);
  // The newline is a byte piece, as in Llama's tokenizer; each letter follows it as one piece.
  EXPECT_EQ(tok.piece_to_id("<0x0A>").value_or(-1), tok.encode("\n").back());
  const auto letters = letter_token_ids(tok, candidate_letters(20), "\n\n### Response:\n");
  EXPECT_EQ(letters.size(), 20u);
  EXPECT_EQ(std::set<int64_t>(letters.begin(), letters.end()).size(), 20u);
  // Nothing is unknown: unseen characters decode back through byte fallback.
  for (const std::string text : {"Crème brûlée \xF0\x9F\x8D\xAE\n(Q) 1999", "  two spaces", "Harbor Lantern"})
    EXPECT_EQ(tok.decode(tok.encode(text)), text) << text;
  for (const auto id : tok.encode("Zebra \xE2\x82\xAC")) EXPECT_NE(id, tok.unk_id());
  // Digits are split, as Llama's are.
  for (const auto id : tok.encode("2024 36")) {
    const auto piece = tok.id_to_piece(id);
    EXPECT_LE(std::count_if(piece.begin(), piece.end(), [](char ch) { return ch >= '0' && ch <= '9'; }), 1) << piece;
  }
}

TEST(TokenizerTrainer, BadInputIsAClearError) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  TempDir tmp;
  const auto out = (tmp / "t.model").string();
  EXPECT_CONTAINS(testing::error_of([&] { train_tokenizer({}, {}, out); }), "no text");
  TokenizerTrainingOptions tiny;
  tiny.vocab_size = 100;
  EXPECT_CONTAINS(testing::error_of([&] { train_tokenizer(corpus(), tiny, out); }), "vocab_size 100");
  EXPECT_FALSE(std::filesystem::exists(out));
}

// A tokenizer without the letters (no byte fallback, a corpus without capitals) maps them to <unk>:
// one token each, so only the unk check tells; the error names the file and the letter.
TEST(TokenizerTrainer, ATokenizerWithoutTheLettersIsRejectedByTheVerbalizer) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  TempDir tmp;
  std::vector<std::string> sentences;
  for (int i = 0; i < 500; ++i) sentences.push_back("response: lower case only, item " + std::to_string(i % 37));
  TokenizerTrainingOptions options;
  options.vocab_size = 300;
  options.byte_fallback = false;
  const auto path = (tmp / "no-letters.model").string();
  train_tokenizer(sentences, options, path);
  const Tokenizer tok(path);
  const std::string message =
      testing::error_of([&] { letter_token_ids(tok, candidate_letters(20), "\n\n### Response:\n"); });
  EXPECT_NE(message.find(path + ": the prompt's text before the answer (\"\\n\\n### Response:\\n\") has characters "
                                "unknown to the tokenizer"),
            std::string::npos)
      << message;
  const std::string letter = testing::error_of([&] { letter_token_ids(tok, candidate_letters(20), "response: "); });
  EXPECT_NE(letter.find(path + ": letter 'A' is unknown to the tokenizer (it encodes to <unk>): the verbalizer needs "
                               "the letters A..T"),
            std::string::npos)
      << letter;
  EXPECT_NE(testing::error_of([&] {
              letter_token_ids_dummy_prefix(tok, candidate_letters(20));
            }).find("letter 'A' is unknown to the tokenizer"),
            std::string::npos);
}

}  // namespace
}  // namespace llamarec
