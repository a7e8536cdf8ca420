#include "core/sequence_dataset.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sequence_dataset_writer.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::error_of;
using ::llamarec::testing::TempDir;

// A dataset from explicit per-user sequences; item titles "Item <id>" (plus one non-ASCII title).
SequenceData make_data(const std::vector<std::vector<int32_t>>& sequences, int32_t num_items, bool timestamps = true) {
  SequenceData data;
  data.item_titles.push_back("");
  data.item_raw_ids.push_back("");
  for (int32_t i = 1; i <= num_items; ++i) {
    data.item_titles.push_back(i == 1 ? "Amélie (2001)" : "Item " + std::to_string(i));
    data.item_raw_ids.push_back("raw" + std::to_string(i));
  }
  data.offsets.push_back(0);
  for (size_t u = 0; u < sequences.size(); ++u) {
    data.user_raw_ids.push_back("user" + std::to_string(u));
    for (size_t k = 0; k < sequences[u].size(); ++k) {
      data.items.push_back(sequences[u][k]);
      if (timestamps) data.timestamps.push_back(1000 * static_cast<int64_t>(u) + static_cast<int64_t>(k));
    }
    data.offsets.push_back(static_cast<int64_t>(data.items.size()));
  }
  return data;
}

// Deterministic sequences with lengths in [min_len, max_len].
std::vector<std::vector<int32_t>> random_sequences(int users, int items, int min_len, int max_len, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> out(users);
  for (auto& seq : out) {
    const int len = min_len + static_cast<int>(rng() % (max_len - min_len + 1));
    for (int k = 0; k < len; ++k) seq.push_back(1 + static_cast<int32_t>(rng() % items));
  }
  return out;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<int64_t> offsets_of(const std::vector<std::vector<int32_t>>& sequences) {
  std::vector<int64_t> offsets{0};
  for (const auto& s : sequences) offsets.push_back(offsets.back() + static_cast<int64_t>(s.size()));
  return offsets;
}

TEST(SequenceDataset, RoundTripKeepsEverything) {
  TempDir dir;
  const auto path = (dir / "dataset.h5").string();
  const std::vector<std::vector<int32_t>> sequences = {{1, 2, 3, 4, 5}, {3, 1}, {5, 4, 3, 2, 1, 2, 3}};
  const SequenceData data = make_data(sequences, 5);
  write_sequence_dataset(path, data, {{"source_format", std::string("test")}, {"min_rating", 3.5}});

  const SequenceDataset ds = SequenceDataset::open(path);
  EXPECT_EQ(ds.num_users(), 3);
  EXPECT_EQ(ds.num_items(), 5);
  EXPECT_EQ(ds.num_interactions(), 14);
  EXPECT_EQ(ds.user_begin(), 0);
  EXPECT_EQ(ds.user_end(), 3);
  for (int u = 0; u < 3; ++u) {
    EXPECT_EQ(ds.items(u).to_vector(), sequences[u]) << "user " << u;
    EXPECT_EQ(ds.user_raw_id(u), "user" + std::to_string(u));
    const auto ts = ds.timestamps(u);
    ASSERT_EQ(ts.size(), sequences[u].size());
    EXPECT_EQ(ts.front(), 1000 * u);
  }
  EXPECT_EQ(ds.title(0), "");
  EXPECT_EQ(ds.title(1), "Amélie (2001)");
  EXPECT_EQ(ds.title(5), "Item 5");
  EXPECT_EQ(ds.item_raw_id(3), "raw3");
  EXPECT_EQ(ds.titles().size(), 6u);

  const auto& attrs = ds.attributes();
  EXPECT_EQ(std::get<std::string>(attrs.at("source_format")), "test");
  EXPECT_DOUBLE_EQ(std::get<double>(attrs.at("min_rating")), 3.5);
  EXPECT_EQ(std::get<int64_t>(attrs.at("schema_version")), 1);
  EXPECT_EQ(std::get<std::string>(attrs.at("created_by")), "llamarec");
  EXPECT_EQ(std::get<int64_t>(attrs.at("num_users")), 3);
  EXPECT_EQ(std::get<int64_t>(attrs.at("num_items")), 5);
  EXPECT_EQ(std::get<int64_t>(attrs.at("num_interactions")), 14);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(SequenceDataset, TimestampsAreOptional) {
  TempDir dir;
  const auto path = (dir / "d.h5").string();
  write_sequence_dataset(path, make_data({{1, 2, 3}}, 3, /*timestamps=*/false), {});
  const SequenceDataset ds = SequenceDataset::open(path);
  EXPECT_FALSE(ds.has_timestamps());
  EXPECT_TRUE(ds.timestamps(0).empty());
  EXPECT_EQ(ds.items(0).to_vector(), (std::vector<int32_t>{1, 2, 3}));
}

TEST(SequenceDataset, LeaveOneOutViews) {
  TempDir dir;
  const auto path = (dir / "d.h5").string();
  write_sequence_dataset(path, make_data({{5, 4, 3, 2, 1}, {2, 3}}, 5), {});
  const SequenceDataset ds = SequenceDataset::open(path);

  EXPECT_EQ(ds.train_items(0).to_vector(), (std::vector<int32_t>{5, 4, 3}));
  ASSERT_TRUE(ds.has_eval(0));
  const EvalExample val = ds.example(0, Split::kVal);
  EXPECT_EQ(val.history.to_vector(), (std::vector<int32_t>{5, 4, 3}));
  EXPECT_EQ(val.target, 2);
  const EvalExample test = ds.example(0, Split::kTest);
  EXPECT_EQ(test.history.to_vector(), (std::vector<int32_t>{5, 4, 3, 2}));
  EXPECT_EQ(test.target, 1);

  // Too short for leave-one-out: all of it is training data.
  EXPECT_FALSE(ds.has_eval(1));
  EXPECT_EQ(ds.train_items(1).to_vector(), (std::vector<int32_t>{2, 3}));
  EXPECT_THROW(ds.example(1, Split::kTest), Error);
  EXPECT_THROW(ds.items(2), Error);
}

TEST(SequenceDataset, SameContentGivesIdenticalBytes) {
  TempDir dir;
  const auto data = make_data(random_sequences(50, 30, 3, 20, 7), 30);
  write_sequence_dataset((dir / "a.h5").string(), data, {{"input_path", std::string("x")}});
  write_sequence_dataset((dir / "b.h5").string(), data, {{"input_path", std::string("x")}});
  EXPECT_EQ(read_bytes(dir / "a.h5"), read_bytes(dir / "b.h5"));
}

TEST(SequenceDataset, OverwriteIsAtomic) {
  TempDir dir;
  const auto path = (dir / "dataset.h5").string();
  write_sequence_dataset(path, make_data({{1, 2, 3}}, 3), {});
  const std::string before = read_bytes(path);

  // Inconsistent data is refused before anything is written.
  SequenceData bad = make_data({{1, 2, 3}}, 3);
  bad.items[1] = 9;
  EXPECT_NE(error_of([&] { write_sequence_dataset(path, bad, {}); }).find("outside 1..3"), std::string::npos);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  // A failure after the temp file was written (the final rename onto a non-empty directory).
  const auto blocked = dir / "blocked.h5";
  std::filesystem::create_directories(blocked / "keep");
  const std::string message = error_of([&] { write_sequence_dataset(blocked.string(), make_data({{1}}, 1), {}); });
  EXPECT_NE(message.find(blocked.string()), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(blocked.string() + ".tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(blocked / "keep"));

  // A successful overwrite replaces the content.
  write_sequence_dataset(path, make_data({{2, 1}, {1}}, 2), {});
  EXPECT_EQ(SequenceDataset::open(path).num_users(), 2);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(SequenceDataset, BadFilesGiveClearErrors) {
  TempDir dir;
  const auto missing = (dir / "missing.h5").string();
  std::string message = error_of([&] { SequenceDataset::open(missing); });
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;

  const auto garbage = dir / "garbage.h5";
  ::llamarec::testing::write_text(garbage, std::string(4096, 'x'));
  message = error_of([&] { SequenceDataset::open(garbage.string()); });
  EXPECT_NE(message.find(garbage.string()), std::string::npos) << message;
  EXPECT_NE(message.find("not an HDF5 file"), std::string::npos) << message;

  // A real dataset cut in half: the signature is intact but the file is not.
  const auto good = (dir / "good.h5").string();
  write_sequence_dataset(good, make_data(random_sequences(200, 50, 3, 30, 1), 50), {});
  const std::string bytes = read_bytes(good);
  const auto truncated = dir / "truncated.h5";
  ::llamarec::testing::write_text(truncated, bytes.substr(0, bytes.size() / 2));
  message = error_of([&] { SequenceDataset::open(truncated.string()); });
  EXPECT_NE(message.find(truncated.string()), std::string::npos) << message;

  // Valid HDF5 but not (or not entirely) a llamarec dataset.
  const auto no_version = (dir / "no_version.h5").string();
  {
    Hdf5File file(no_version, Hdf5File::Mode::kCreate);
    file.write_int64("offsets", {0});
    file.close();
  }
  message = error_of([&] { SequenceDataset::open(no_version); });
  EXPECT_NE(message.find("schema_version"), std::string::npos) << message;

  // A dataset of another schema version (a newer release's) names the version it found and the one it reads.
  const auto other_version = (dir / "other_version.h5").string();
  {
    Hdf5File file(other_version, Hdf5File::Mode::kCreate);
    file.write_int64("offsets", {0});
    file.set_attribute("schema_version", int64_t{99});
    file.close();
  }
  message = error_of([&] { SequenceDataset::open(other_version); });
  EXPECT_NE(message.find(other_version + ": schema_version 99 is not supported (this build reads version 1)"),
            std::string::npos)
      << message;

  const auto partial = (dir / "partial.h5").string();
  {
    Hdf5File file(partial, Hdf5File::Mode::kCreate);
    file.set_attribute("schema_version", int64_t{1});
    file.create_group("/items");
    file.create_group("/users");
    file.write_strings("/items/title", {"", "a"});
    file.write_strings("/items/raw_id", {"", "1"});
    file.write_int64("/users/offsets", {0, 1});
    file.write_strings("/users/raw_id", {"u"});
    file.close();
  }
  message = error_of([&] { SequenceDataset::open(partial); });
  EXPECT_NE(message.find(partial), std::string::npos) << message;
  EXPECT_NE(message.find("missing dataset /users/items"), std::string::npos) << message;

  const auto future = (dir / "future.h5").string();
  {
    Hdf5File file(future, Hdf5File::Mode::kCreate);
    file.set_attribute("schema_version", int64_t{2});
    file.close();
  }
  message = error_of([&] { SequenceDataset::open(future); });
  EXPECT_NE(message.find("schema_version 2 is not supported"), std::string::npos) << message;
}

// A dataset of two items and one user, written with raw HDF5 calls so that it can hold what
// SequenceDatasetWriter would never write.
void write_one_user_dataset(const std::string& path, const std::vector<std::string>& titles,
                            const std::vector<int32_t>& items) {
  Hdf5File file(path, Hdf5File::Mode::kCreate);
  file.set_attribute("schema_version", int64_t{1});
  file.create_group("/items");
  file.create_group("/users");
  file.write_strings("/items/title", titles);
  file.write_strings("/items/raw_id", {"", "1", "2"});
  file.write_int64("/users/offsets", {0, static_cast<int64_t>(items.size())});
  file.write_int32("/users/items", items);
  file.write_strings("/users/raw_id", {"u"});
  file.close();
}

TEST(SequenceDataset, OutOfRangeItemIdsAreRejected) {
  TempDir dir;
  const auto path = (dir / "d.h5").string();
  write_one_user_dataset(path, {"", "a", "b"}, {1, 3});
  const std::string message = error_of([&] { SequenceDataset::open(path); });
  EXPECT_NE(message.find("/users/items[1] = 3"), std::string::npos) << message;
}

TEST(SequenceDataset, TitlesThatAreNotUtf8AreRejectedNamingTheItem) {
  TempDir dir;
  const auto path = (dir / "d.h5").string();
  write_one_user_dataset(path, {"", "Am\xe9lie (2001)", "b"}, {1, 2});  // Latin-1 bytes stored as they came
  const std::string message = error_of([&] { SequenceDataset::open(path); });
  EXPECT_NE(message.find("d.h5: /items/title of item 1 is not valid UTF-8 (byte 0xe9 at offset 2)"), std::string::npos)
      << message;
}

// Checks the shard plan's contract: disjoint, complete, >= 1 user per rank, balanced by interactions.
void expect_valid_plan(const std::vector<int64_t>& offsets, int ranks) {
  const auto bounds = plan_user_shards(offsets, ranks, "test");
  const int64_t users = static_cast<int64_t>(offsets.size()) - 1;
  ASSERT_EQ(bounds.size(), static_cast<size_t>(ranks) + 1);
  EXPECT_EQ(bounds.front(), 0);
  EXPECT_EQ(bounds.back(), users);
  int64_t max_len = 0;
  for (int64_t u = 0; u < users; ++u) max_len = std::max(max_len, offsets[u + 1] - offsets[u]);
  const double fair = static_cast<double>(offsets.back()) / ranks;
  for (int r = 0; r < ranks; ++r) {
    EXPECT_GT(bounds[r + 1], bounds[r]) << "rank " << r << " of " << ranks << " has no user";
    const int64_t load = offsets[bounds[r + 1]] - offsets[bounds[r]];
    EXPECT_LE(std::abs(load - fair), max_len) << "rank " << r << " of " << ranks << " holds " << load;
  }
}

TEST(SequenceDataset, ShardPlanIsDisjointCompleteAndBalancedByInteractions) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto offsets = offsets_of(random_sequences(997, 100, 1, 300, seed));
    for (int ranks = 1; ranks <= 9; ++ranks) expect_valid_plan(offsets, ranks);
  }
  // Half the users are long, half short: an equal user count would give one rank ~99% of the work.
  std::vector<std::vector<int32_t>> skewed(100);
  for (int u = 0; u < 100; ++u) skewed[u].assign(u < 50 ? 100 : 1, 1);
  const auto offsets = offsets_of(skewed);
  const auto bounds = plan_user_shards(offsets, 2, "test");
  EXPECT_LT(bounds[1], 30);  // the 5050 interactions split near 2525: 25 or 26 long users
  expect_valid_plan(offsets, 2);
  expect_valid_plan(offsets, 7);
  // One user holds nearly everything: every rank still gets one user.
  const auto heavy = offsets_of({{1}, std::vector<int32_t>(1000, 1), {1}, {1}});
  expect_valid_plan(heavy, 4);
  // As many ranks as users.
  const auto few = offsets_of({{1, 2}, {1}, {3, 4, 5}});
  EXPECT_EQ(plan_user_shards(few, 3, "test"), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(SequenceDataset, ShardPlanNeedsOneUserPerRank) {
  const auto offsets = offsets_of({{1}, {2}});
  const std::string message = error_of([&] { plan_user_shards(offsets, 3, "data/x.h5"); });
  EXPECT_NE(message.find("data/x.h5"), std::string::npos) << message;
  EXPECT_NE(message.find("2 users cannot be split over 3 ranks"), std::string::npos) << message;
}

TEST(SequenceDataset, ShardsConcatenateToTheWholeDataset) {
  TempDir dir;
  const auto path = (dir / "d.h5").string();
  const auto sequences = random_sequences(101, 40, 1, 50, 11);
  write_sequence_dataset(path, make_data(sequences, 40), {});
  const SequenceDataset whole = SequenceDataset::open(path);
  for (int ranks : {1, 2, 3, 8}) {
    const auto bounds = plan_user_shards(offsets_of(sequences), ranks, path);
    int64_t next_user = 0, interactions = 0;
    for (int r = 0; r < ranks; ++r) {
      const SequenceDataset shard = SequenceDataset::open_shard(path, r, ranks);
      EXPECT_EQ(shard.num_users(), 101);
      EXPECT_EQ(shard.num_items(), 40);
      EXPECT_EQ(shard.titles(), whole.titles());
      EXPECT_EQ(shard.user_begin(), bounds[r]);
      EXPECT_EQ(shard.user_end(), bounds[r + 1]);
      EXPECT_EQ(shard.user_begin(), next_user);
      for (int64_t local = 0; local < shard.num_local_users(); ++local) {
        const int64_t u = shard.global_user(local);
        EXPECT_EQ(shard.items(local).to_vector(), sequences[u]);
        EXPECT_EQ(shard.user_raw_id(local), "user" + std::to_string(u));
        EXPECT_EQ(shard.timestamps(local), whole.timestamps(u));
      }
      next_user = shard.user_end();
      interactions += shard.num_local_interactions();
    }
    EXPECT_EQ(next_user, 101);
    EXPECT_EQ(interactions, whole.num_interactions());
  }
  EXPECT_THROW(SequenceDataset::open_shard(path, 2, 2), Error);
  const std::string message = error_of([&] { SequenceDataset::open_shard(path, 0, 200); });
  EXPECT_NE(message.find("101 users cannot be split over 200 ranks"), std::string::npos) << message;
}

// Two ranks open their shards of one file; the all-gathered union must be the whole dataset.
TEST(SequenceDatasetMultiRank, ShardUnionEqualsWholeDataset) {
  LLAMAREC_REQUIRE_WORLD(2);
  const int rank = ::llamarec::testing::world_rank();
  const int size = ::llamarec::testing::world_size();
  TempDir dir;
  // Rank 0 writes; every rank reads rank 0's file.
  std::string path = (dir / "dataset.h5").string();
  const auto sequences = random_sequences(57, 25, 1, 40, 5);
  if (rank == 0) write_sequence_dataset(path, make_data(sequences, 25), {});
  int length = static_cast<int>(path.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, MPI_COMM_WORLD);
  path.resize(length);
  MPI_Bcast(path.data(), length, MPI_CHAR, 0, MPI_COMM_WORLD);

  const SequenceDataset shard = SequenceDataset::open_shard(path, rank, size);
  EXPECT_GE(shard.num_local_users(), 1);

  // Gather (global user, length) pairs and the items of every rank.
  std::vector<int64_t> local_meta, local_items;
  for (int64_t l = 0; l < shard.num_local_users(); ++l) {
    local_meta.push_back(shard.global_user(l));
    local_meta.push_back(shard.items(l).size);
    for (int32_t item : shard.items(l)) local_items.push_back(item);
  }
  auto all_gather = [&](const std::vector<int64_t>& local) {
    int count = static_cast<int>(local.size());
    std::vector<int> counts(size), displs(size, 0);
    MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
    std::vector<int64_t> all(static_cast<size_t>(displs.back() + counts.back()));
    MPI_Allgatherv(local.data(), count, MPI_INT64_T, all.data(), counts.data(), displs.data(), MPI_INT64_T,
                   MPI_COMM_WORLD);
    return all;
  };
  const auto meta = all_gather(local_meta);
  const auto items = all_gather(local_items);
  MPI_Barrier(MPI_COMM_WORLD);  // rank 0's TempDir (and the file) outlive every reader

  ASSERT_EQ(meta.size(), 2 * sequences.size());
  size_t cursor = 0;
  for (size_t k = 0; k < sequences.size(); ++k) {
    EXPECT_EQ(meta[2 * k], static_cast<int64_t>(k)) << "users not disjoint/complete in rank order";
    ASSERT_EQ(meta[2 * k + 1], static_cast<int64_t>(sequences[k].size()));
    for (int32_t item : sequences[k]) EXPECT_EQ(items[cursor++], item);
  }
  EXPECT_EQ(cursor, items.size());
}

}  // namespace
}  // namespace llamarec
