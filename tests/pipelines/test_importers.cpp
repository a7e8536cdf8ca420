#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "pipelines/importers/amazon.h"
#include "pipelines/importers/csv.h"
#include "pipelines/importers/movielens.h"
#include "pipelines/importers/python_literal.h"
#include "pipelines/importers/recbole.h"
#include "pipelines/importers/synthetic.h"
#include "core/text_encoding.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::error_of;
using ::llamarec::testing::TempDir;
using ::llamarec::testing::write_text;

// (user raw id, item raw id) of every interaction, in file order.
std::vector<std::pair<std::string, std::string>> pairs_of(const RawDataset& raw) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& x : raw.interactions) out.emplace_back(raw.users.name(x.user), raw.items.name(x.item));
  return out;
}

void write_gzip(const std::filesystem::path& path, const std::string& text) {
  gzFile file = gzopen(path.string().c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  gzclose(file);
}

// Expected values come from running LlamaRec's Python code (ml_100k.py load_meta_dict) on each title.
TEST(MovieLensTitle, CleansAsLlamaRec) {
  const std::map<std::string, std::string> cases = {
      {"Godfather, The (1972)", "The Godfather (1972)"},
      {"Pan's Labyrinth (Laberinto del fauno, El) (2006)", "Pan's Labyrinth (2006)"},
      {"City of Lost Children, The (Cité des enfants perdus, La) (1995)", "The City of Lost Children (1995)"},
      {"Léon: The Professional (a.k.a. The Professional) (Léon) (1994)", "Léon: The Professional (1994)"},
      {"Grand Day Out with Wallace and Gromit, A (1989)", "A Grand Day Out with Wallace and Gromit (1989)"},
      {"Awfully Big Adventure, An (1995)", "An Awfully Big Adventure (1995)"},
      {"Good, the Bad and the Ugly, The (1966)", "The Good, the Bad and the Ugly (1966)"},
      {"Misérables, Les (1995)", "Misérables, Les (1995)"},
      {"Á köldum klaka (Cold Fever) (1994)", "Á köldum klaka (1994)"},
      {"Open (paren (x) here, The (2001)", "The Open  here (2001)"},
      {"Bon Voyage, Le (Ça) (2003)", "Bon Voyage, Le (2003)"},
      {"Babylon 5", "Babylon 5"},
      {"Up", "Up"},
      // No year: Python slices 7 code points (a byte-wise slice would cut elsewhere).
      {"Abc, The (Ü)", "Abc,The (Ü)"},
  };
  for (const auto& [raw, expected] : cases) EXPECT_EQ(clean_movielens_title(raw), expected) << raw;
}

TEST(TextEncoding, Latin1AndUtf8) {
  EXPECT_EQ(latin1_to_utf8("Mis\xe9rables \xc1"), "Mis\xc3\xa9rables \xc3\x81");
  EXPECT_EQ(utf8_or_latin1("Mis\xc3\xa9rables"), "Mis\xc3\xa9rables");  // already UTF-8: unchanged
  EXPECT_EQ(utf8_or_latin1("Mis\xe9rables"), "Mis\xc3\xa9rables");
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x8e\xac"));  // U+1F3AC
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));     // surrogate
  EXPECT_FALSE(is_valid_utf8("ab\xc3"));           // truncated
  EXPECT_EQ(decode_utf8("a\xc3\xa9\xf0\x9f\x8e\xac"), (std::u32string{U'a', 0xE9, 0x1F3AC}));
  EXPECT_EQ(encode_utf8(U"\u00e9\U0001F3AC"), "\xc3\xa9\xf0\x9f\x8e\xac");
  EXPECT_EQ(python_strip(" \t\xc2\xa0 x y \n"), "x y");  // U+00A0 is whitespace to Python
}

TEST(CsvReader, QuotesEscapesAndLineBreaks) {
  TempDir dir;
  const auto path = dir / "x.csv";
  write_text(path,
             "a,b,c\r\n"
             "1,\"Godfather, The (1972)\",x\n"
             "\n"
             "2,\"She said \"\"hi\"\", A (2000)\",\n"
             "3,\"two\nlines\",\"\"\n");
  CsvReader csv(path.string());
  std::vector<std::string> f;
  ASSERT_TRUE(csv.next(f));
  EXPECT_EQ(f, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(csv.next(f));
  EXPECT_EQ(f, (std::vector<std::string>{"1", "Godfather, The (1972)", "x"}));
  EXPECT_EQ(csv.line_number(), 2);
  ASSERT_TRUE(csv.next(f));
  EXPECT_EQ(f, (std::vector<std::string>{"2", "She said \"hi\", A (2000)", ""}));
  EXPECT_EQ(csv.line_number(), 4);
  ASSERT_TRUE(csv.next(f));
  EXPECT_EQ(f, (std::vector<std::string>{"3", "two\nlines", ""}));
  EXPECT_FALSE(csv.next(f));
}

TEST(CsvReader, MalformedRecordsNameFileAndLine) {
  TempDir dir;
  const auto after_quote = dir / "after.csv";
  write_text(after_quote, "1,2\n3,\"x\"y,4\n");
  CsvReader a(after_quote.string());
  std::vector<std::string> f;
  ASSERT_TRUE(a.next(f));
  std::string message = error_of([&] { a.next(f); });
  EXPECT_CONTAINS(message, after_quote.string() + ":2:");

  const auto open_quote = dir / "open.csv";
  write_text(open_quote, "1,\"never closed\n2,3\n");
  CsvReader b(open_quote.string());
  message = error_of([&] { b.next(f); });
  EXPECT_CONTAINS(message, open_quote.string() + ":1: quoted field");

  EXPECT_CONTAINS(error_of([&] { parse_double("4.5x", "r.csv", 7, "rating"); }), "r.csv:7: rating '4.5x'");
  EXPECT_CONTAINS(error_of([&] { parse_int64("", "r.csv", 8, "timestamp"); }), "r.csv:8: timestamp");
  EXPECT_DOUBLE_EQ(parse_double(" 3.5 ", "r.csv", 1, "rating"), 3.5);
  EXPECT_EQ(parse_int64("978300760", "r.csv", 1, "timestamp"), 978300760);
}

TEST(PythonLiteral, ParsesAmazon2014Records) {
  const std::string literal =
      "{'asin': '0205616461', 'title': 'Bio-Active \\'Serum\\' \"X\"', 'price': 9.99, "
      "'salesRank': {'Beauty': 402875}, 'categories': [['Beauty', 'Skin Care'], []], "
      "'flag': True, 'off': False, 'none': None, 'neg': -3, 'exp': 1e3, 'tuple': (1, 'two',), "
      "'esc': 'caf\\xe9 \\u00e9 \\U0001F3AC \\\\n \\n \\t \\d', \"dq\": \"it's\", u'uni': u'x', 7: 'seven', }";
  const nlohmann::json expected = nlohmann::json::parse(R"({
    "asin": "0205616461", "title": "Bio-Active 'Serum' \"X\"", "price": 9.99,
    "salesRank": {"Beauty": 402875}, "categories": [["Beauty", "Skin Care"], []],
    "flag": true, "off": false, "none": null, "neg": -3, "exp": 1000.0, "tuple": [1, "two"],
    "esc": "café é 🎬 \\n \n \t \\d", "dq": "it's", "uni": "x", "7": "seven"})");
  EXPECT_EQ(parse_python_literal(literal), expected);
  EXPECT_EQ(parse_python_literal("{'s': 'x\\x41\\101'}")["s"], "xAA");
  EXPECT_EQ(parse_python_literal("[1, 2.5, 'a']"), nlohmann::json::parse("[1, 2.5, \"a\"]"));
}

TEST(PythonLiteral, MalformedTextThrows) {
  for (const char* bad : {"{'a': 'unterminated}", "{'a' 1}", "{'a': tru}", "[1, 2", "{'a': 1} trailing", "",
                          "{'a': '\\x4'}", "{[1]: 2}"}) {
    EXPECT_THROW(parse_python_literal(bad), Error) << bad;
  }
  EXPECT_CONTAINS(error_of([] { parse_python_literal("{'a': @}"); }), "at offset 6");
}

TEST(MovieLensImporter, LatestSmallCsvLayout) {
  TempDir dir;
  write_text(dir / "ratings.csv",
             "userId,movieId,rating,timestamp\n"
             "1,10,4.0,964982703\n"
             "1,20,3.5,964981247\n"
             "2,10,5.0,964982224\n");
  write_text(dir / "movies.csv",
             "movieId,title,genres\n"
             "10,\"Godfather, The (1972)\",Crime|Drama\n"
             "20,\"Misérables, Les (1995)\",Drama\n"
             "30,Unrated (2001),Drama\n");
  for (const auto& input : {dir.path().string(), (dir / "ratings.csv").string()}) {
    const RawDataset raw = import_movielens(input);
    EXPECT_EQ(raw.format, "movielens-csv");
    EXPECT_TRUE(raw.has_ratings);
    EXPECT_TRUE(raw.has_timestamps);
    EXPECT_EQ(pairs_of(raw), (std::vector<std::pair<std::string, std::string>>{{"1", "10"}, {"1", "20"}, {"2", "10"}}));
    EXPECT_FLOAT_EQ(raw.interactions[1].rating, 3.5f);
    EXPECT_DOUBLE_EQ(raw.interactions[1].timestamp, 964981247.0);
    EXPECT_EQ(raw.titles.at("10"), "The Godfather (1972)");
    EXPECT_EQ(raw.titles.at("20"), "Misérables, Les (1995)");
    EXPECT_EQ(raw.titles.size(), 3u);
  }
}

TEST(MovieLensImporter, OneMillionLayoutIsLatin1) {
  TempDir dir;
  write_text(dir / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n");
  write_text(dir / "movies.dat",
             "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
             "661::Mis\xe9rables, Les (1995)::Drama\n");
  const RawDataset raw = import_movielens(dir.path().string());
  EXPECT_EQ(raw.format, "movielens-dat");
  EXPECT_EQ(pairs_of(raw), (std::vector<std::pair<std::string, std::string>>{{"1", "1193"}, {"1", "661"}}));
  EXPECT_EQ(raw.titles.at("661"), "Mis\xc3\xa9rables, Les (1995)");
  EXPECT_EQ(raw.titles.at("1193"), "One Flew Over the Cuckoo's Nest (1975)");
}

TEST(MovieLensImporter, EncodingChoosesHowTitlesAreRead) {
  TempDir dir;
  write_text(dir / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n");
  write_text(dir / "movies.dat",
             "1193::Am\xc3\xa9lie (2001)::Drama\n"        // UTF-8
             "661::Mis\xe9rables, Les (1995)::Drama\n");  // Latin-1: the file is mixed (or damaged)
  const std::string message = error_of([&] { import_movielens(dir.path().string(), TextEncoding::kUtf8); });
  EXPECT_CONTAINS(message, "movies.dat:2: not valid UTF-8 (byte 0xe9 at column 4)");
  EXPECT_CONTAINS(message, "data.encoding = \"latin-1\"");
  // latin-1 takes every byte as a code point, valid UTF-8 or not; auto decides for the whole file.
  for (auto encoding : {TextEncoding::kLatin1, TextEncoding::kAuto}) {
    const RawDataset raw = import_movielens(dir.path().string(), encoding);
    EXPECT_EQ(raw.titles.at("1193"), "Am\xc3\x83\xc2\xa9lie (2001)");
    EXPECT_EQ(raw.titles.at("661"), "Mis\xc3\xa9rables, Les (1995)");
  }
}

TEST(RecBoleImporter, Utf8EncodingRejectsALatin1TitleNamingTheLine) {
  TempDir dir;
  write_text(dir / "toy.inter", "user_id:token\titem_id:token\nU1\tI1\n");
  write_text(dir / "toy.item", "item_id:token\ttitle:token_seq\nI1\tCaf\xe9\n");
  EXPECT_CONTAINS(error_of([&] { import_recbole(dir.path().string(), "", TextEncoding::kUtf8); }),
                  "toy.item:2: not valid UTF-8 (byte 0xe9 at column 4)");
  EXPECT_EQ(import_recbole(dir.path().string(), "").titles.at("I1"), "Caf\xc3\xa9");
}

TEST(MovieLensImporter, HundredKLayoutIsLatin1) {
  TempDir dir;
  write_text(dir / "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n");
  write_text(dir / "u.item",
             "242|Kolya (1996)|24-Jan-1997||http://x|0|0\n"
             "302|\xc1 k\xf6ldum klaka (Cold Fever) (1994)|01-Jan-1994||http://y|0|1\n");
  const RawDataset raw = import_movielens(dir.path().string());
  EXPECT_EQ(raw.format, "movielens-100k");
  EXPECT_EQ(raw.titles.at("302"), "Á köldum klaka (1994)");
  EXPECT_EQ(raw.titles.at("242"), "Kolya (1996)");
  EXPECT_EQ(raw.interactions.size(), 2u);
}

TEST(MovieLensImporter, BadInputNamesFileAndLine) {
  TempDir dir;
  EXPECT_CONTAINS(error_of([&] { import_movielens((dir / "nope").string()); }), "no such file");
  EXPECT_CONTAINS(error_of([&] { import_movielens(dir.path().string()); }), "not a MovieLens folder");

  write_text(dir / "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,1\n1,20,four,2\n");
  write_text(dir / "movies.csv", "movieId,title,genres\n10,A (2000),x\n20,B (2001),y\n");
  EXPECT_CONTAINS(error_of([&] { import_movielens(dir.path().string()); }),
                  (dir / "ratings.csv").string() + ":3: rating 'four'");

  write_text(dir / "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,1\n1,20\n");
  EXPECT_CONTAINS(error_of([&] { import_movielens(dir.path().string()); }),
                  (dir / "ratings.csv").string() + ":3: expected 4 fields");

  write_text(dir / "ratings.csv", "user,movie,rating,timestamp\n1,10,4.0,1\n");
  EXPECT_CONTAINS(error_of([&] { import_movielens(dir.path().string()); }), "header has no 'userId' column");
}

TEST(AmazonImporter, JsonMetadata2018) {
  TempDir dir;
  write_text(dir / "ratings.csv",
             "A1,B0001,5.0,1369699200\n"
             "A2,B0002,4.0,1355616000\n"
             "A1,B0003,1.0,1369699300\n");
  write_text(dir / "meta.json",
             "{\"asin\": \" B0001 \", \"title\": \"  Nail Lacquer, Red &amp; Gold  \"}\n"
             "{\"asin\": \"B0002\", \"title\": \"\"}\n"
             "\n"
             "{\"asin\": \"B0003\", \"description\": \"no title\"}\n");
  const RawDataset raw = import_amazon((dir / "ratings.csv").string(), (dir / "meta.json").string());
  EXPECT_EQ(raw.format, "amazon-user-item");
  EXPECT_EQ(pairs_of(raw),
            (std::vector<std::pair<std::string, std::string>>{{"A1", "B0001"}, {"A2", "B0002"}, {"A1", "B0003"}}));
  EXPECT_EQ(raw.titles.size(), 1u);
  EXPECT_EQ(raw.titles.at("B0001"), "Nail Lacquer, Red &amp; Gold");  // HTML entities kept, as LlamaRec
}

TEST(AmazonImporter, PythonLiteralGzipMetadata2014AndItemFirstRatings) {
  TempDir dir;
  write_gzip(dir / "meta.json.gz",
             "{'asin': 'B0001', 'title': 'Caf\\xe9 Cr\\xe8me', 'salesRank': {'Beauty': 1}, 'price': 3.5}\n"
             "{'asin': 'B0002', 'title': \"Men's Gel\", 'related': {'also_bought': ['B0001']}}\n");
  // 2018 "ratings only" order: item,user,rating,timestamp.
  write_text(dir / "ratings.csv", "B0001,A9,5.0,100\nB0002,A9,4.0,200\nB0002,A7,2.0,150\n");
  const RawDataset raw = import_amazon((dir / "ratings.csv").string(), (dir / "meta.json.gz").string());
  EXPECT_EQ(raw.format, "amazon-item-user");
  EXPECT_EQ(pairs_of(raw),
            (std::vector<std::pair<std::string, std::string>>{{"A9", "B0001"}, {"A9", "B0002"}, {"A7", "B0002"}}));
  EXPECT_EQ(raw.titles.at("B0001"), "Café Crème");
  EXPECT_EQ(raw.titles.at("B0002"), "Men's Gel");
}

TEST(AmazonImporter, BadInputNamesFileAndLine) {
  TempDir dir;
  write_text(dir / "ratings.csv", "A1,B0001,5.0,1\n");
  write_text(dir / "meta.json", "{\"asin\": \"B0001\", \"title\": \"ok\"}\n{'asin': 'B0002', 'title': 'broken}\n");
  std::string message = error_of([&] { import_amazon((dir / "ratings.csv").string(), (dir / "meta.json").string()); });
  EXPECT_CONTAINS(message, (dir / "meta.json").string() + ":2: neither JSON nor a Python dict literal");

  write_text(dir / "meta.json", "[1, 2]\n");
  message = error_of([&] { import_amazon((dir / "ratings.csv").string(), (dir / "meta.json").string()); });
  EXPECT_CONTAINS(message, ":1: expected one object per line");

  write_text(dir / "meta.json", "{\"title\": \"no asin\"}\n");
  message = error_of([&] { import_amazon((dir / "ratings.csv").string(), (dir / "meta.json").string()); });
  EXPECT_CONTAINS(message, ":1: record has no string 'asin'");

  write_text(dir / "meta.json", "{\"asin\": \"B0001\", \"title\": \"ok\"}\n");
  write_text(dir / "ratings.csv", "A1,B0001,5.0,1\nA1,B0001,5.0\n");
  message = error_of([&] { import_amazon((dir / "ratings.csv").string(), (dir / "meta.json").string()); });
  EXPECT_CONTAINS(message, (dir / "ratings.csv").string() + ":2: expected 4 fields");

  // A truncated gzip file is a read error, not silently shorter data.
  write_gzip(dir / "meta.json.gz", std::string(5000, ' ') + "{\"asin\": \"B0001\", \"title\": \"ok\"}\n");
  std::ifstream in(dir / "meta.json.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_text(dir / "cut.json.gz", gz.substr(0, gz.size() - 12));
  message = error_of([&] { import_amazon((dir / "ratings.csv").string(), (dir / "cut.json.gz").string()); });
  EXPECT_CONTAINS(message, (dir / "cut.json.gz").string());

  EXPECT_CONTAINS(error_of([&] { import_amazon((dir / "ratings.csv").string(), ""); }), "metadata");
}

TEST(RecBoleImporter, ColumnsByHeaderName) {
  TempDir dir;
  write_text(dir / "toy.inter",
             "timestamp:float\titem_id:token\trating:float\tuser_id:token\n"
             "300.0\tI1\t5\tU1\n"
             "100.0\tI2\t3\tU1\n"
             "200.5\tI1\t4\tU2\n");
  write_text(dir / "toy.item", "item_id:token\tbrand:token\ttitle:token_seq\nI1\tx\t  First Item \nI2\ty\t\n");
  for (const auto& input : {dir.path().string(), (dir / "toy.inter").string()}) {
    const RawDataset raw = import_recbole(input, "");
    EXPECT_EQ(raw.format, "recbole");
    EXPECT_TRUE(raw.has_ratings);
    EXPECT_TRUE(raw.has_timestamps);
    EXPECT_EQ(pairs_of(raw),
              (std::vector<std::pair<std::string, std::string>>{{"U1", "I1"}, {"U1", "I2"}, {"U2", "I1"}}));
    EXPECT_DOUBLE_EQ(raw.interactions[2].timestamp, 200.5);
    EXPECT_FLOAT_EQ(raw.interactions[1].rating, 3.0f);
    EXPECT_EQ(raw.titles.at("I1"), "First Item");
    EXPECT_EQ(raw.titles.count("I2"), 0u);  // empty title
  }
}

TEST(RecBoleImporter, WithoutTimestampsAndItemFileElsewhere) {
  TempDir dir;
  write_text(dir / "a" / "beauty.inter", "user_id:token\titem_id:token\n1\tX\n1\tY\n2\tX\n");
  write_text(dir / "b" / "titles.item", "item_id:token\ttitle:token_seq\nX\tTitle X\nY\tTitle Y\n");
  const RawDataset raw = import_recbole((dir / "a").string(), (dir / "b" / "titles.item").string());
  EXPECT_FALSE(raw.has_ratings);
  EXPECT_FALSE(raw.has_timestamps);
  EXPECT_EQ(raw.interactions.size(), 3u);
  EXPECT_EQ(raw.titles.at("Y"), "Title Y");
  EXPECT_CONTAINS(error_of([&] { import_recbole((dir / "a").string(), ""); }), "beauty.item does not exist");
}

TEST(RecBoleImporter, BadInput) {
  TempDir dir;
  write_text(dir / "x.inter", "user_id:token\titem_id:token\n1\tX\n2\n");
  write_text(dir / "x.item", "item_id:token\ttitle:token_seq\nX\tT\n");
  EXPECT_CONTAINS(error_of([&] { import_recbole(dir.path().string(), ""); }),
                  (dir / "x.inter").string() + ":3: expected 2 tab-separated fields, found 1");
  write_text(dir / "x.inter", "user:token\titem_id:token\n1\tX\n");
  EXPECT_CONTAINS(error_of([&] { import_recbole(dir.path().string(), ""); }), "header has no 'user_id' column");
  write_text(dir / "y.inter", "user_id:token\titem_id:token\n");
  EXPECT_CONTAINS(error_of([&] { import_recbole(dir.path().string(), ""); }), "several .inter files");
  EXPECT_CONTAINS(error_of([&] { import_recbole((dir / "none").string(), ""); }), "no such file");
}

TEST(SyntheticImporter, DeterministicFromSeed) {
  SyntheticOptions o;
  o.users = 200;
  o.items = 120;
  const RawDataset a = generate_synthetic(o);
  const RawDataset b = generate_synthetic(o);
  o.seed = 43;
  const RawDataset c = generate_synthetic(o);
  EXPECT_EQ(pairs_of(a), pairs_of(b));
  EXPECT_EQ(a.titles, b.titles);
  EXPECT_NE(pairs_of(a), pairs_of(c));
  for (const auto& x : a.interactions) {
    ASSERT_GE(x.rating, 1.f);
    ASSERT_LE(x.rating, 5.f);
  }
  // Lengths within bounds, strictly increasing time per user.
  std::map<int32_t, std::vector<double>> times;
  for (const auto& x : a.interactions) times[x.user].push_back(x.timestamp);
  ASSERT_EQ(times.size(), 200u);
  for (const auto& [user, t] : times) {
    EXPECT_GE(t.size(), 8u);
    EXPECT_LE(t.size(), 60u);
    EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  }
  EXPECT_EQ(a.titles.size(), 120u);
  EXPECT_CONTAINS(error_of([] { generate_synthetic({10, 100, 9, 3, 1}); }), "data.synthetic_max_length");
}

// The data must carry a sequential signal: a bigram model (next-item counts from each user's
// earlier items) must beat global popularity by far on each user's last item.
TEST(SyntheticImporter, SequentialSignalIsLearnable) {
  SyntheticOptions o;
  const RawDataset raw = generate_synthetic(o);
  std::map<int32_t, std::vector<int32_t>> seqs;
  for (const auto& x : raw.interactions) seqs[x.user].push_back(x.item);
  std::map<int32_t, std::map<int32_t, int>> next;
  std::map<int32_t, int> popularity;
  for (const auto& [u, s] : seqs) {
    for (size_t k = 0; k + 1 < s.size(); ++k) {
      popularity[s[k]]++;
      if (k + 2 < s.size()) next[s[k]][s[k + 1]]++;  // train pairs exclude the last transition
    }
  }
  auto top10 = [](const std::map<int32_t, int>& counts) {
    std::vector<std::pair<int, int32_t>> v;
    for (const auto& [item, c] : counts) v.emplace_back(-c, item);
    std::sort(v.begin(), v.end());
    std::set<int32_t> out;
    for (size_t k = 0; k < v.size() && k < 10; ++k) out.insert(v[k].second);
    return out;
  };
  const auto popular = top10(popularity);
  int bigram_hits = 0, popular_hits = 0;
  for (const auto& [u, s] : seqs) {
    const int32_t last = s.back(), previous = s[s.size() - 2];
    bigram_hits += top10(next[previous]).count(last);
    popular_hits += popular.count(last);
  }
  const double n = static_cast<double>(seqs.size());
  EXPECT_GT(bigram_hits / n, 0.5);
  EXPECT_GT(bigram_hits, 5 * popular_hits);
}

}  // namespace
}  // namespace llamarec
