#include "pipelines/preprocess.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "pipelines/config.h"
#include "core/error.h"
#include "core/sequence_dataset.h"
#include "pipelines/dataset_info.h"
#include "pipelines/importers/movielens.h"
#include "pipelines/preprocess_filter.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::error_of;
using ::llamarec::testing::TempDir;
using ::llamarec::testing::write_text;

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A raw dataset from (user, item, timestamp) rows; every item titled "T<item>" unless listed untitled.
RawDataset make_raw(const std::vector<std::tuple<std::string, std::string, double>>& rows,
                    const std::vector<std::string>& untitled = {}) {
  RawDataset raw;
  raw.format = "test";
  raw.has_timestamps = true;
  for (const auto& [user, item, time] : rows) {
    raw.add(user, item, 5.0f, time);
    if (std::find(untitled.begin(), untitled.end(), item) == untitled.end()) raw.titles[item] = "T" + item;
  }
  return raw;
}

// Per-user raw item ids, read back through the dense ids.
std::map<std::string, std::vector<std::string>> sequences_of(const SequenceData& data) {
  std::map<std::string, std::vector<std::string>> out;
  for (size_t u = 0; u < data.user_raw_ids.size(); ++u) {
    for (int64_t k = data.offsets[u]; k < data.offsets[u + 1]; ++k) {
      out[data.user_raw_ids[u]].push_back(data.item_raw_ids[data.items[k]]);
    }
  }
  return out;
}

TEST(Preprocess, IterativeKcoreNeedsSeveralRounds) {
  // With 2/2-core: i4 has one row, so u3 falls to one item, so i2 falls to one row, so u1 falls,
  // so i1 falls, so u2 falls: a single items-then-users pass would keep u1 and u2.
  // {u5, u6} x {i5, i6} is a stable core.
  const RawDataset raw = make_raw({{"u1", "i1", 1},
                                   {"u1", "i2", 2},
                                   {"u2", "i1", 1},
                                   {"u2", "i3", 2},
                                   {"u4", "i3", 1},
                                   {"u3", "i2", 1},
                                   {"u3", "i4", 2},
                                   {"u5", "i5", 1},
                                   {"u5", "i6", 2},
                                   {"u6", "i5", 1},
                                   {"u6", "i6", 2}});
  std::vector<char> keep(raw.interactions.size(), 1);
  const int rounds = iterative_kcore(raw.interactions, raw.users.size(), raw.items.size(), 2, 2, keep);
  EXPECT_GE(rounds, 2);
  std::vector<std::pair<std::string, std::string>> kept;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (keep[i]) kept.emplace_back(raw.users.name(raw.interactions[i].user), raw.items.name(raw.interactions[i].item));
  }
  EXPECT_EQ(kept,
            (std::vector<std::pair<std::string, std::string>>{{"u5", "i5"}, {"u5", "i6"}, {"u6", "i5"}, {"u6", "i6"}}));

  // The same through build_sequence_data, with counts at every stage.
  FilterReport report;
  const SequenceData data = build_sequence_data(raw, {2, 2, 0.0}, "handmade", &report);
  EXPECT_EQ(report.raw.interactions, 11);
  EXPECT_EQ(report.raw.users, 6);
  EXPECT_EQ(report.kcore.users, 2);
  EXPECT_EQ(report.kcore.items, 2);
  EXPECT_EQ(report.kcore.interactions, 4);
  EXPECT_EQ(report.kcore_rounds, rounds);
  EXPECT_EQ(data.num_users(), 2);
  EXPECT_EQ(data.num_items(), 2);
}

TEST(Preprocess, TimestampTiesKeepFileOrder) {
  // u1's rows out of time order; "b" and "a" share a timestamp (file order: b first).
  const RawDataset raw = make_raw({{"u1", "c", 30},
                                   {"u1", "b", 10},
                                   {"u1", "a", 10},
                                   {"u1", "d", 5},
                                   {"u2", "a", 1},
                                   {"u2", "b", 1},
                                   {"u2", "c", 1},
                                   {"u2", "d", 1}});
  const SequenceData data = build_sequence_data(raw, {1, 1, 0.0}, "ties");
  const auto seqs = sequences_of(data);
  EXPECT_EQ(seqs.at("u1"), (std::vector<std::string>{"d", "b", "a", "c"}));
  EXPECT_EQ(seqs.at("u2"), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(data.timestamps, (std::vector<int64_t>{5, 10, 10, 30, 1, 1, 1, 1}));
}

TEST(Preprocess, DenseIdsFollowRawIdOrder) {
  // Integer raw ids sort numerically ("9" < "10" < "100"); others byte-wise.
  const RawDataset raw = make_raw({{"100", "b10", 1}, {"9", "a2", 1}, {"10", "b10", 2}, {"10", "B1", 3}});
  const SequenceData data = build_sequence_data(raw, {1, 1, 0.0}, "ids");
  EXPECT_EQ(data.user_raw_ids, (std::vector<std::string>{"9", "10", "100"}));
  EXPECT_EQ(data.item_raw_ids, (std::vector<std::string>{"", "B1", "a2", "b10"}));
  EXPECT_EQ(data.item_titles, (std::vector<std::string>{"", "TB1", "Ta2", "Tb10"}));
  EXPECT_EQ(data.offsets, (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(data.items, (std::vector<int32_t>{2, 3, 1, 3}));
}

TEST(Preprocess, TitleAndRatingFilters) {
  RawDataset raw = make_raw({{"u", "a", 1}, {"u", "b", 2}, {"u", "c", 3}, {"v", "a", 1}}, {"b"});
  raw.titles["c"] = "";  // an empty title counts as none
  raw.interactions[3].rating = 2.0f;
  raw.has_ratings = true;
  FilterReport report;
  SequenceData data = build_sequence_data(raw, {1, 1, 0.0}, "filters", &report);
  EXPECT_EQ(report.titled.interactions, 2);
  EXPECT_EQ(sequences_of(data), (std::map<std::string, std::vector<std::string>>{{"u", {"a"}}, {"v", {"a"}}}));
  data = build_sequence_data(raw, {1, 1, 3.0}, "filters", &report);
  EXPECT_EQ(report.rated.interactions, 1);
  EXPECT_EQ(sequences_of(data), (std::map<std::string, std::vector<std::string>>{{"u", {"a"}}}));

  raw.has_ratings = false;
  EXPECT_CONTAINS(error_of([&] {
                    build_sequence_data(raw, {1, 1, 3.0}, "norate", nullptr);
                  }),
                  "norate: data.min_rating = 3");
  EXPECT_CONTAINS(error_of([&] {
                    build_sequence_data(raw, {5, 5, 0.0}, "tiny/input", nullptr);
                  }),
                  "tiny/input: no interactions left after filtering");
}

// Two MovieLens users, hand-checked end to end through dataset.h5.
TEST(Preprocess, MovieLensEndToEnd) {
  TempDir dir;
  write_text(dir / "ml" / "ratings.csv",
             "userId,movieId,rating,timestamp\n"
             "2,10,4.0,50\n2,20,4.0,40\n2,30,4.0,40\n"
             "1,30,1.0,7\n1,10,2.0,8\n1,20,3.0,9\n");
  write_text(dir / "ml" / "movies.csv",
             "movieId,title,genres\n10,\"Godfather, The (1972)\",x\n20,Heat (1995),y\n30,\"Piano, The (1993)\",z\n");
  PreprocessOptions o;
  o.format = "movielens";
  o.input = (dir / "ml").string();
  o.output = (dir / "run" / "dataset.h5").string();
  o.filter = {3, 2, 0.0};
  const PreprocessSummary summary = run_preprocess(o);
  EXPECT_EQ(summary.source_format, "movielens-csv");

  const SequenceDataset ds = SequenceDataset::open(o.output);
  ASSERT_EQ(ds.num_users(), 2);
  ASSERT_EQ(ds.num_items(), 3);
  EXPECT_EQ(ds.user_raw_id(0), "1");
  EXPECT_EQ(ds.items(0).to_vector(), (std::vector<int32_t>{3, 1, 2}));  // 30, 10, 20 by time
  EXPECT_EQ(ds.items(1).to_vector(), (std::vector<int32_t>{2, 3, 1}));  // 20, 30 tie at 40 (file order), 10
  EXPECT_EQ(ds.title(1), "The Godfather (1972)");
  EXPECT_EQ(ds.title(3), "The Piano (1993)");
  EXPECT_EQ(ds.timestamps(1), (std::vector<int64_t>{40, 40, 50}));
  const auto& a = ds.attributes();
  EXPECT_EQ(std::get<std::string>(a.at("source_format")), "movielens-csv");
  EXPECT_EQ(std::get<std::string>(a.at("input_path")), o.input);
  EXPECT_EQ(std::get<int64_t>(a.at("min_user_count")), 3);
  EXPECT_EQ(std::get<int64_t>(a.at("min_item_count")), 2);
  EXPECT_EQ(std::get<int64_t>(a.at("raw_interactions")), 6);

  const std::string info = dataset_info(o.output);
  EXPECT_CONTAINS(info, "users         2");
  EXPECT_CONTAINS(info, "interactions  6");
  EXPECT_CONTAINS(info, "source_format = movielens-csv");
}

TEST(Preprocess, SyntheticFilesAreDeterministic) {
  TempDir dir;
  PreprocessOptions o;
  o.synthetic.users = 300;
  o.synthetic.items = 150;
  o.output = (dir / "a.h5").string();
  run_preprocess(o);
  o.output = (dir / "b.h5").string();
  run_preprocess(o);
  o.synthetic.seed = 7;
  o.output = (dir / "c.h5").string();
  run_preprocess(o);
  const std::string a = read_bytes(dir / "a.h5");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, read_bytes(dir / "b.h5"));
  EXPECT_NE(a, read_bytes(dir / "c.h5"));
  const SequenceDataset ds = SequenceDataset::open((dir / "a.h5").string());
  EXPECT_EQ(ds.num_users(), 300);
  EXPECT_EQ(std::get<int64_t>(ds.attributes().at("synthetic_seed")), 42);
}

TEST(Preprocess, BadInputLeavesNothingBehind) {
  TempDir dir;
  const auto output = dir / "run" / "dataset.h5";
  auto nothing_written = [&] {
    EXPECT_FALSE(std::filesystem::exists(output));
    EXPECT_FALSE(std::filesystem::exists(output.string() + ".tmp"));
  };
  PreprocessOptions o;
  o.output = output.string();

  o.format = "netflix";
  std::string message = error_of([&] { run_preprocess(o); });
  EXPECT_CONTAINS(message, "'netflix' is not a known format (valid: movielens, amazon, recbole, synthetic)");
  nothing_written();

  o.format = "movielens";
  o.input = (dir / "missing").string();
  EXPECT_CONTAINS(error_of([&] { run_preprocess(o); }), o.input);
  nothing_written();

  write_text(dir / "ml" / "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,1\n1,\"10,4.0,2\n");
  write_text(dir / "ml" / "movies.csv", "movieId,title,genres\n10,A (2000),x\n");
  o.input = (dir / "ml").string();
  EXPECT_CONTAINS(error_of([&] { run_preprocess(o); }), (dir / "ml" / "ratings.csv").string() + ":3:");
  nothing_written();

  write_text(dir / "ml" / "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,1\n1,10,4.0,2\n");
  EXPECT_CONTAINS(error_of([&] { run_preprocess(o); }), o.input + ": no interactions left after filtering");
  nothing_written();

  write_text(dir / "amz" / "ratings.csv", "A,B,5,1\n");
  write_text(dir / "amz" / "meta.json", "{\"asin\": \"B\", \"title\": \"x\"}\n{not json\n");
  o.format = "amazon";
  o.input = (dir / "amz" / "ratings.csv").string();
  o.meta = (dir / "amz" / "meta.json").string();
  EXPECT_CONTAINS(error_of([&] { run_preprocess(o); }), o.meta + ":2:");
  nothing_written();

  // A failed run leaves an existing dataset untouched.
  PreprocessOptions good;
  good.synthetic.users = 50;
  good.synthetic.items = 40;
  good.output = output.string();
  run_preprocess(good);
  const std::string before = read_bytes(output);
  EXPECT_THROW(run_preprocess(o), Error);
  EXPECT_EQ(read_bytes(output), before);
  EXPECT_FALSE(std::filesystem::exists(output.string() + ".tmp"));
}

TEST(Preprocess, OutputCurrentOnlyForTheSameOptions) {
  TempDir dir;
  PreprocessOptions o;
  o.synthetic.users = 60;
  o.synthetic.items = 40;
  o.output = (dir / "dataset.h5").string();
  EXPECT_FALSE(preprocess_output_current(o));  // missing
  run_preprocess(o);
  EXPECT_TRUE(preprocess_output_current(o));
  PreprocessOptions other = o;
  other.filter.min_user_count = 6;
  EXPECT_FALSE(preprocess_output_current(other));
  other = o;
  other.synthetic.seed = 1;
  EXPECT_FALSE(preprocess_output_current(other));
  other = o;
  other.format = "movielens";
  other.input = "synthetic";
  EXPECT_FALSE(preprocess_output_current(other));
  write_text(o.output, "not hdf5");
  EXPECT_FALSE(preprocess_output_current(o));
}

TEST(Preprocess, OptionsFromConfig) {
  Config config = load_config("", {"run.dir=/tmp/r", "run.seed=9", "data.format=recbole", "data.input=x/y",
                                   "data.min_user_count=3", "data.min_rating=2.5", "data.synthetic_users=77"});
  PreprocessOptions o = preprocess_options(config);
  EXPECT_EQ(o.format, "recbole");
  EXPECT_EQ(o.input, "x/y");
  EXPECT_EQ(o.output, "/tmp/r/dataset.h5");
  EXPECT_EQ(o.filter.min_user_count, 3);
  EXPECT_EQ(o.filter.min_item_count, 5);
  EXPECT_DOUBLE_EQ(o.filter.min_rating, 2.5);
  EXPECT_EQ(o.synthetic.users, 77);
  EXPECT_EQ(o.synthetic.seed, 9u);
}

TEST(DatasetInfo, PercentilesInterpolateLikeNumpy) {
  // numpy.percentile([1, 2, 3, 4, 10], [10, 50, 90]) = [1.4, 3.0, 7.6]
  const std::vector<int64_t> v = {1, 2, 3, 4, 10};
  EXPECT_DOUBLE_EQ(percentile(v, 10), 1.4);
  EXPECT_DOUBLE_EQ(percentile(v, 50), 3.0);
  EXPECT_DOUBLE_EQ(percentile(v, 90), 7.6);
  const CountSummary s = summarize_counts({10, 1, 4, 3, 2});
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(s.mean, 4.0);
  EXPECT_DOUBLE_EQ(s.median, 3.0);
}

// LlamaRec paper Table 2 (counts also verified by re-running LlamaRec's pandas code).
TEST(PreprocessRealData, MovieLensLatestSmallMatchesLlamaRec) {
  LLAMAREC_REQUIRE_SHARED("data/ml-latest-small");
  TempDir dir;
  PreprocessOptions o;
  o.format = "movielens";
  o.input = shared_path.string();
  o.output = (dir / "dataset.h5").string();
  const PreprocessSummary s = run_preprocess(o);
  // ratings.csv ends with one extra row (user 999, movie 999999) whose movie has no title: the
  // title filter removes it, leaving SOURCE.txt's raw counts.
  EXPECT_EQ(s.report.raw.users, 611);
  EXPECT_EQ(s.report.raw.items, 9725);
  EXPECT_EQ(s.report.raw.interactions, 100837);
  EXPECT_EQ(s.report.titled.users, 610);
  EXPECT_EQ(s.report.titled.items, 9724);  // movies with a rating (movies.csv lists 9,742)
  EXPECT_EQ(s.report.titled.interactions, 100836);
  const SequenceDataset ds = SequenceDataset::open(o.output);
  EXPECT_EQ(ds.num_users(), 610);
  EXPECT_EQ(ds.num_items(), 3650);
  EXPECT_EQ(ds.num_interactions(), 90274);
  const DatasetStats st = compute_dataset_stats(ds);
  EXPECT_EQ(st.user_length.min, 12);
  EXPECT_DOUBLE_EQ(st.user_length.median, 68);
  EXPECT_EQ(st.user_length.max, 2132);
  EXPECT_NEAR(st.user_length.mean, 147.99, 0.005);
  int64_t over_200 = 0;
  for (int64_t u = 0; u < ds.num_users(); ++u) over_200 += ds.items(u).size > 200;
  EXPECT_EQ(over_200, 123);
  // Non-ASCII titles arrive as UTF-8, cleaned.
  const auto& titles = ds.titles();
  EXPECT_NE(std::find(titles.begin(), titles.end(), "The City of Lost Children (1995)"), titles.end());
}

TEST(PreprocessRealData, BeautyRecBoleMatchesLlamaRec) {
  LLAMAREC_REQUIRE_SHARED("data/beauty");
  TempDir dir;
  PreprocessOptions o;
  o.format = "recbole";
  o.input = shared_path.string();
  o.output = (dir / "dataset.h5").string();
  const PreprocessSummary s = run_preprocess(o);
  EXPECT_EQ(s.report.raw.users, 22363);
  EXPECT_EQ(s.report.raw.items, 12101);
  EXPECT_EQ(s.report.raw.interactions, 198502);
  const SequenceDataset ds = SequenceDataset::open(o.output);
  EXPECT_EQ(ds.num_users(), 22332);
  EXPECT_EQ(ds.num_items(), 12086);
  EXPECT_EQ(ds.num_interactions(), 198215);
  EXPECT_FALSE(ds.has_timestamps());
}

TEST(PreprocessRealData, MovieLens100kImports) {
  LLAMAREC_REQUIRE_SHARED("data/ml-100k");
  const RawDataset raw = import_movielens(shared_path.string());
  EXPECT_EQ(raw.format, "movielens-100k");
  EXPECT_EQ(raw.users.size(), 943);
  EXPECT_EQ(raw.items.size(), 1682);
  EXPECT_EQ(raw.interactions.size(), 100000u);
  EXPECT_EQ(raw.titles.at("1633"), "Á köldum klaka (1994)");  // Latin-1 in u.item
  EXPECT_EQ(raw.titles.at("543"), "Misérables, Les (1995)");
  const SequenceData data = build_sequence_data(raw, {5, 5, 0.0}, shared_path.string());
  EXPECT_EQ(data.num_users(), 943);  // every ml-100k user has >= 20 ratings
}

}  // namespace
}  // namespace llamarec
