// What a stage's inputs are and how they are told apart (pipelines/input_files.h), and the ranker's
// resume identity built from them (train_ranker.h): the settings, the seed and every input file,
// the base's weight shards included.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/content_hash.h"
#include "core/safetensors.h"
#include "pipelines/config.h"
#include "pipelines/config_diff.h"
#include "pipelines/input_files.h"
#include "pipelines/train_ranker.h"
#include "pipelines/training/run_identity.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

namespace fs = std::filesystem;
using ::llamarec::testing::TempDir;
using ::llamarec::testing::write_text;

// A Hugging Face base with two weight shards and its index.
fs::path write_sharded_base(const fs::path& dir) {
  write_text(dir / "config.json", R"({"hidden_size": 8})");
  write_text(dir / "tokenizer.model", "not really a SentencePiece model");
  save_safetensors((dir / "model-00001-of-00002.safetensors").string(), {{"a", torch::ones({4, 8})}});
  save_safetensors((dir / "model-00002-of-00002.safetensors").string(), {{"b", torch::ones({8, 8})}});
  write_text(dir / "model.safetensors.index.json",
             R"({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                "b": "model-00002-of-00002.safetensors"}})");
  return dir;
}

Config config_with_base(const fs::path& run_dir, const fs::path& base) {
  Config c = load_config("");
  c.run.dir = run_dir.string();
  c.ranker.model = base.string();
  write_text(run_dir / c.data.dataset, "dataset bytes");
  write_text(run_dir / c.retrieval.candidates, "candidate bytes");
  return c;
}

std::vector<std::string> names_of(const std::vector<InputFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.name);
  return out;
}

TEST(InputFiles, TheRankerBaseIsItsConfigEveryWeightsFileAndTheTokenizer) {
  TempDir tmp;
  const auto base = write_sharded_base(tmp / "base");
  const auto c = config_with_base(tmp / "run", base);
  const auto files = ranker_base_files(c);
  EXPECT_EQ(names_of(files), (std::vector<std::string>{"base_config", "base_weights/model.safetensors.index.json",
                                                       "base_weights/model-00001-of-00002.safetensors",
                                                       "base_weights/model-00002-of-00002.safetensors", "tokenizer"}));
  EXPECT_EQ(files.back().path, (base / "tokenizer.model").string());

  // One file; a tokenizer named apart from the base.
  const auto single = tmp / "single";
  write_text(single / "config.json", "{}");
  save_safetensors((single / "model.safetensors").string(), {{"a", torch::zeros({2})}});
  Config s = c;
  s.ranker.model = single.string();
  s.ranker.tokenizer = (tmp / "tok.model").string();
  const auto single_files = ranker_base_files(s);
  EXPECT_EQ(names_of(single_files),
            (std::vector<std::string>{"base_config", "base_weights/model.safetensors", "tokenizer"}));
  EXPECT_EQ(single_files.back().path, s.ranker.tokenizer);

  // No weights (not made yet, or not a safetensors base): one entry, which describes as null.
  Config none = c;
  none.ranker.model = (tmp / "nothing").string();
  const auto none_files = ranker_base_files(none);
  EXPECT_EQ(names_of(none_files), (std::vector<std::string>{"base_config", "base_weights", "tokenizer"}));
  EXPECT_TRUE(describe_input_file(none_files[1].path).is_null());
}

TEST(InputFiles, LargeFilesAreDescribedBySampledContentSoThatACopyIsTheSameInput) {
  TempDir tmp;
  const auto path = tmp / "input.bin";
  // Larger than the 64 blocks of 256 KiB, so that the sampled digest samples.
  std::string bytes(size_t{20} << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::ofstream(path, std::ios::binary) << bytes;
  const auto whole = describe_input_file(path.string());
  EXPECT_EQ(whole.at("bytes"), bytes.size());
  EXPECT_EQ(whole.at("fnv1a64"), file_digest(path.string()));

  const auto sampled = describe_input_file(path.string(), 1000);
  EXPECT_EQ(sampled.at("bytes"), bytes.size());
  EXPECT_NE(sampled.at("sampled_fnv1a64"), whole.at("fnv1a64"));
  ASSERT_TRUE(sampled.contains("mtime_ns"));
  EXPECT_TRUE(same_input(sampled, sampled));

  // A copy staged elsewhere, with its own mtime, is the same input.
  const auto copy = tmp / "staged" / "input.bin";
  fs::create_directories(copy.parent_path());
  fs::copy_file(path, copy);
  fs::last_write_time(copy, fs::last_write_time(path) + std::chrono::hours(2));
  const auto staged = describe_input_file(copy.string(), 1000);
  EXPECT_NE(staged, sampled);
  EXPECT_TRUE(same_input(sampled, staged));
  // A description from before the sampled digest (size and mtime) matches its unchanged file only.
  const nlohmann::json older = {{"bytes", bytes.size()}, {"mtime_ns", sampled.at("mtime_ns")}};
  EXPECT_TRUE(same_input(older, sampled));
  EXPECT_FALSE(same_input(older, staged));
  // A sampled block that changed, or the size, is another input.
  bytes[0] = static_cast<char>(bytes[0] ^ 1);
  std::ofstream(copy, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_FALSE(same_input(sampled, describe_input_file(copy.string(), 1000)));
  std::ofstream(copy, std::ios::binary | std::ios::app) << 'x';
  EXPECT_FALSE(same_input(sampled, describe_input_file(copy.string(), 1000)));
  // Whole-file digests; absent files.
  EXPECT_TRUE(same_input(whole, describe_input_file(path.string())));
  EXPECT_FALSE(same_input(whole, sampled));  // no fingerprint in common
  EXPECT_TRUE(describe_input_file((tmp / "absent").string()).is_null());
  EXPECT_TRUE(describe_input_file(tmp.path().string()).is_null());  // a directory
  EXPECT_TRUE(same_input(nullptr, nullptr));
  EXPECT_FALSE(same_input(nullptr, whole));
}

// The keys a saved ranker state must match, pinned: a key that joins or leaves the identity changes
// which saved states resume, so it must be a decision, made here.
TEST(InputFiles, TheRankerIdentityHoldsItsSettingsTheSeedAndEveryInput) {
  TempDir tmp;
  const auto base = write_sharded_base(tmp / "base");
  const auto c = config_with_base(tmp / "run", base);
  const auto identity = ranker_run_identity(c);
  std::vector<std::string> outside;
  for (const auto& [key, value] : identity) {
    if (key.rfind("ranker.", 0) != 0 && key.rfind("lora.", 0) != 0) outside.push_back(key);
  }
  EXPECT_EQ(outside, (std::vector<std::string>{"data.dataset", "input.base_config",
                                               "input.base_weights/model-00001-of-00002.safetensors",
                                               "input.base_weights/model-00002-of-00002.safetensors",
                                               "input.base_weights/model.safetensors.index.json", "input.candidates",
                                               "input.dataset", "input.tokenizer", "run.seed"}));
  for (const auto* key : {"ranker.lr", "ranker.batch_size", "ranker.model", "ranker.train_order", "ranker.val_order",
                          "ranker.quantization", "lora.r", "lora.alpha", "lora.target_modules"})
    EXPECT_EQ(identity.count(key), 1u) << key;
  // What may change between a run and its resumption.
  for (const auto* key :
       {"ranker.max_steps", "ranker.patience", "ranker.checkpoint_interval", "ranker.max_bad_steps", "ranker.val_users",
        "ranker.eval_batch_size", "ranker.permutations", "ranker.calibrate", "ranker.fuse_retriever"})
    EXPECT_EQ(identity.count(key), 0u) << key;

  // The same base copied elsewhere (staged to a job's scratch) is the same base.
  fs::copy(base, tmp / "staged", fs::copy_options::recursive);
  Config staged = c;
  staged.ranker.model = (tmp / "staged").string();
  const auto staged_identity = ranker_run_identity(staged);
  EXPECT_EQ(differing_config_keys(identity, staged_identity), std::vector<std::string>{"ranker.model"});
  EXPECT_TRUE(identity_differences(identity, staged_identity).empty());

  // Another checkpoint under the same path: the shard that changed is named.
  save_safetensors((base / "model-00002-of-00002.safetensors").string(), {{"b", torch::full({8, 8}, 2.0)}});
  EXPECT_EQ(differing_config_keys(identity, ranker_run_identity(c)),
            std::vector<std::string>{"input.base_weights/model-00002-of-00002.safetensors"});
  // A state saved before the weights were fingerprinted (no such keys) still matches, but compares
  // the base by its path: fine-tunes of one base share its config and tokenizer.
  ConfigValues older = identity;
  for (auto it = older.begin(); it != older.end();)
    it = it->first.rfind("input.base_weights", 0) == 0 ? older.erase(it) : std::next(it);
  EXPECT_TRUE(identity_differences(older, ranker_run_identity(c)).empty());
  EXPECT_EQ(identity_differences(older, ranker_run_identity(staged)), std::vector<std::string>{"ranker.model"});
}

}  // namespace
}  // namespace llamarec
