#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <fstream>

#include "core/atomic_file.h"
#include "pipelines/config.h"
#include "core/error.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::error_of;
using ::llamarec::testing::TempDir;
using ::llamarec::testing::write_text;

TEST(Config, DefaultsAreValid) {
  const Config c = load_config("");
  EXPECT_EQ(c.data.format, "synthetic");
  EXPECT_EQ(c.data.min_user_count, 5);
  EXPECT_EQ(c.run.seed, 42);
  EXPECT_EQ(c.in_run_dir("dataset.h5"), "runs/demo/dataset.h5");
  EXPECT_EQ(c.in_run_dir("/abs/x.h5"), "/abs/x.h5");
}

TEST(Config, LoadsFileAndOverrides) {
  TempDir tmp;
  write_text(tmp / "c.toml", "[run]\nseed = 7\n[data]\nformat = \"movielens\"\ninput = \"x\"\nmin_rating = 3\n");
  const Config c = load_config((tmp / "c.toml").string(), {"data.min_user_count=10", "run.dir='out dir'",
                                                           "data.min_rating=2.5", "run.log_all_ranks=true"});
  EXPECT_EQ(c.run.seed, 7);
  EXPECT_EQ(c.data.format, "movielens");
  EXPECT_DOUBLE_EQ(c.data.min_rating, 2.5);  // the override wins over the file
  EXPECT_EQ(c.data.min_user_count, 10);
  EXPECT_EQ(c.run.dir, "out dir");
  EXPECT_TRUE(c.run.log_all_ranks);
}

TEST(Config, IntegerIsAcceptedForFloatKeys) {
  TempDir tmp;
  write_text(tmp / "c.toml", "[data]\nmin_rating = 4\n");
  EXPECT_DOUBLE_EQ(load_config((tmp / "c.toml").string()).data.min_rating, 4.0);
}

TEST(Config, UnknownKeyNamesFileAndKey) {
  TempDir tmp;
  const auto path = (tmp / "bad.toml").string();
  write_text(path, "[data]\nmin_usr_count = 3\n");
  const std::string msg = error_of([&] { load_config(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.min_usr_count"), std::string::npos) << msg;
}

TEST(Config, UnknownSection) {
  TempDir tmp;
  write_text(tmp / "bad.toml", "[dataa]\nx = 1\n");
  EXPECT_NE(error_of([&] { load_config((tmp / "bad.toml").string()); }).find("unknown section [dataa]"),
            std::string::npos);
}

TEST(Config, WrongTypeNamesExpectedType) {
  TempDir tmp;
  write_text(tmp / "bad.toml", "[run]\nseed = \"forty-two\"\n");
  const std::string msg = error_of([&] { load_config((tmp / "bad.toml").string()); });
  EXPECT_NE(msg.find("run.seed must be an integer, got a string"), std::string::npos) << msg;
}

TEST(Config, MalformedTomlGivesLine) {
  TempDir tmp;
  write_text(tmp / "bad.toml", "[run]\nseed = 1\ndir = \"unterminated\n");
  const std::string msg = error_of([&] { load_config((tmp / "bad.toml").string()); });
  EXPECT_NE(msg.find("bad.toml:3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed TOML"), std::string::npos) << msg;
}

TEST(Config, InvalidValuesAreRejected) {
  EXPECT_NE(error_of([] { load_config("", {"data.format=csv"}); }).find("data.format"), std::string::npos);
  EXPECT_NE(error_of([] { load_config("", {"data.min_user_count=0"}); }).find("data.min_user_count"),
            std::string::npos);
  EXPECT_NE(error_of([] { load_config("", {"data.format=movielens"}); }).find("data.input"), std::string::npos);
  EXPECT_NE(error_of([] { load_config("", {"run.seed=abc"}); }).find("expected an integer"), std::string::npos);
  EXPECT_NE(error_of([] { load_config("", {"run.nothing=1"}); }).find("unknown key"), std::string::npos);
  EXPECT_NE(error_of([] { load_config("", {"seed=1"}); }).find("section.key=value"), std::string::npos);
  EXPECT_NE(error_of([] { load_config("/no/such/file.toml"); }).find("not found"), std::string::npos);
}

TEST(Config, EnumKeysAreParsedOnceAndNameTheirChoices) {
  TempDir tmp;
  write_text(tmp / "e.toml",
             "[ranker]\ndtype = \"bfloat16\"\npositions = \"from_mask\"\n[retriever]\nscan = \"parallel\"\n");
  const Config c =
      load_config((tmp / "e.toml").string(), {"distributed.backend=nccl", "ranker.letter_ids=dummy_prefix"});
  EXPECT_EQ(c.ranker.dtype, ComputeDtype::kBFloat16);
  EXPECT_EQ(c.ranker.positions, PositionMode::kFromMask);
  EXPECT_EQ(c.retriever.model.scan, LruScan::kParallel);
  EXPECT_EQ(c.distributed.backend, CollectiveBackend::kNccl);
  EXPECT_EQ(c.ranker.letter_ids, LetterIds::kDummyPrefix);
  write_text(tmp / "bad.toml", "[ranker]\ndtype = \"fp8\"\n");
  const auto msg = error_of([&] { load_config((tmp / "bad.toml").string()); });
  EXPECT_NE(msg.find("bad.toml: ranker.dtype must be one of auto, float32 or bfloat16, got a string (\"fp8\")"),
            std::string::npos)
      << msg;
  EXPECT_NE(error_of([] { load_config("", {"distributed.device=tpu"}); }).find("expected one of auto, cpu or cuda"),
            std::string::npos);
  // Printed back by name, so that a saved effective config loads again.
  EXPECT_NE(config_to_toml(c).find("dtype = \"bfloat16\""), std::string::npos);
}

TEST(Config, ModelSectionsHoldTheModelsOwnDefaults) {
  const Config c = load_config("");
  const LruConfig lru;
  EXPECT_EQ(c.retriever.model.hidden, lru.hidden);
  EXPECT_DOUBLE_EQ(c.retriever.model.dropout, lru.dropout);
  const LoraConfig lora;
  EXPECT_EQ(c.lora.r, lora.r);
  EXPECT_EQ(c.lora.target_modules, lora.target_modules);
  EXPECT_NE(error_of([] { load_config("", {"lora.target_modules=q_proj,qkv"}); }).find("unknown module 'qkv'"),
            std::string::npos);
}

TEST(Config, RenamedKeysAreReadUnderTheirNewNames) {
  TempDir tmp;
  write_text(tmp / "old.toml", "[retriever]\nmax_iterations = 70\nmax_epochs = 3\n");
  const Config c = load_config((tmp / "old.toml").string());
  EXPECT_EQ(c.retriever.max_steps, 70);
  EXPECT_EQ(c.retriever.epochs, 3);
  EXPECT_EQ(load_config("", {"retriever.max_iterations=9"}).retriever.max_steps, 9);
  write_text(tmp / "both.toml", "[retriever]\nmax_iterations = 70\nmax_steps = 80\n");
  const auto msg = error_of([&] { load_config((tmp / "both.toml").string()); });
  EXPECT_NE(msg.find("are the same key"), std::string::npos) << msg;
  // The effective config speaks only the new names.
  EXPECT_EQ(config_to_toml(c).find("max_iterations"), std::string::npos);
}

TEST(Config, EffectiveConfigRoundTrips) {
  TempDir tmp;
  const Config c = load_config("", {"run.dir=a \"quoted\" dir", "data.min_rating=3.5", "run.seed=123"});
  const auto path = (tmp / "effective.toml").string();
  save_config(c, path);
  // The saved file parses as TOML and loads back into the same values.
  EXPECT_NO_THROW(toml::parse_file(path));
  const Config back = load_config(path);
  EXPECT_EQ(back.run.dir, c.run.dir);
  EXPECT_EQ(back.run.seed, 123);
  EXPECT_DOUBLE_EQ(back.data.min_rating, 3.5);
  EXPECT_EQ(config_to_toml(back).substr(config_to_toml(back).find('\n')),
            config_to_toml(c).substr(config_to_toml(c).find('\n')));
}

TEST(AtomicFile, FailedWriteKeepsThePreviousFile) {
  TempDir tmp;
  const auto path = (tmp / "out.txt").string();
  write_file_atomic(path, "old");
  EXPECT_THROW(commit_file_atomic(path,
                                  [](const std::string& t) {
                                    write_text(t, "half");
                                    throw Error("boom");
                                  }),
               Error);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "old");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace llamarec
