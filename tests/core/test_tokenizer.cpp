#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tokenizer.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

// Spec §3.4, measured with the Llama 2 tokenizer.
const std::vector<int64_t> kAfterNewline = {29909, 29933, 29907, 29928, 29923, 29943, 29954, 29950, 29902, 29967,
                                            29968, 29931, 29924, 29940, 29949, 29925, 29984, 29934, 29903, 29911};
const std::vector<int64_t> kDummyPrefix = {319, 350, 315, 360, 382, 383, 402, 379, 306, 435,
                                           476, 365, 341, 405, 438, 349, 660, 390, 317, 323};

TEST(Tokenizer, Llama2SpecialIdsAndPrompt) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/llama2-tokenizer/tokenizer.model");
  Tokenizer tok(shared_path.string());
  EXPECT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 0);
  EXPECT_EQ(tok.pad_id(), -1);
  EXPECT_EQ(tok.id_to_piece(13), "<0x0A>");
  EXPECT_EQ(tok.piece_to_id("<0x0A>"), 13);
  EXPECT_EQ(tok.piece_to_id("\xE2\x96\x81"
                            "A"),
            319);  // "▁A"
  EXPECT_EQ(tok.piece_to_id("no-such-piece-here"), std::nullopt);
  // Spec §3.4: the answer letter follows "\n" without the word-boundary marker.
  EXPECT_EQ(tok.encode("### Response:\nA", true), (std::vector<int64_t>{1, 835, 13291, 29901, 13, 29909}));
  EXPECT_EQ(tok.encode("hi", true, true).back(), 2);
}

TEST(Tokenizer, Llama2LetterIdsAfterNewline) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/llama2-tokenizer/tokenizer.model");
  Tokenizer tok(shared_path.string());
  const auto letters = candidate_letters(20);
  ASSERT_EQ(letters.front(), "A");
  ASSERT_EQ(letters.back(), "T");
  EXPECT_EQ(letter_token_ids(tok, letters), kAfterNewline);
  // The same ids after the whole LlamaRec response header.
  EXPECT_EQ(letter_token_ids(tok, letters, "\n\n### Response:\n"), kAfterNewline);
  EXPECT_EQ(letter_token_ids_dummy_prefix(tok, letters), kDummyPrefix);
}

TEST(Tokenizer, LetterIdsRejectMergedTokens) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/llama2-tokenizer/tokenizer.model");
  Tokenizer tok(shared_path.string());
  // "the" + "re" merges into "there": not a single extra token after the context.
  EXPECT_THROW(letter_token_ids(tok, {"re"}, "the"), Error);
  EXPECT_THROW(letter_token_ids_dummy_prefix(tok, {"Zyzzyva"}), Error);
  EXPECT_THROW(candidate_letters(27), Error);
}

TEST(Tokenizer, Llama2DecodeInvertsEncode) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/llama2-tokenizer/tokenizer.model");
  Tokenizer tok(shared_path.string());
  for (const std::string text : {"Pan's Labyrinth (2006) \n (2) Cinderella (1997)", "Crème brûlée \xF0\x9F\x8D\xAE",
                                 "  two leading spaces", ""}) {
    EXPECT_EQ(tok.decode(tok.encode(text, true, true)), text) << text;
  }
  EXPECT_THROW(tok.decode({5, 32000}), Error);
  EXPECT_THROW(tok.id_to_piece(-1), Error);
}

TEST(Tokenizer, Stories260KMatchesReferenceIds) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/stories260K-hf/reference_logits.json");
  std::ifstream in(shared_path);
  const auto ref = nlohmann::json::parse(in);
  Tokenizer tok((shared_path.parent_path() / "tokenizer.model").string());
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.encode(ref["text"].get<std::string>(), true), ref["input_ids"].get<std::vector<int64_t>>());
}

TEST(Tokenizer, MissingModelIsAnError) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  try {
    Tokenizer tok("/nonexistent/tokenizer.model");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.model"), std::string::npos);
  }
  ::llamarec::testing::TempDir dir;
  ::llamarec::testing::write_text(dir / "bad.model", "not a sentencepiece model");
  EXPECT_THROW(Tokenizer((dir / "bad.model").string()), Error);
}

}  // namespace
}  // namespace llamarec
