#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/safetensors.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::error_of;
using ::llamarec::testing::TempDir;

// Builds a safetensors file byte by byte, independently of save_safetensors.
void write_raw(const std::filesystem::path& path, const std::string& header, const std::vector<uint8_t>& data,
               std::optional<uint64_t> header_length = std::nullopt) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header_length.value_or(header.size());
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

TEST(Safetensors, ReadsHandWrittenFile) {
  TempDir dir;
  const auto path = dir / "hand.safetensors";
  // a: F32 [2, 2] = 1..4 at [0, 16); b: I64 [3] = 7, -8, 9 at [16, 40)
  auto data = bytes_of(std::vector<float>{1, 2, 3, 4});
  auto b = bytes_of(std::vector<int64_t>{7, -8, 9});
  data.insert(data.end(), b.begin(), b.end());
  write_raw(path,
            R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
            R"("b":{"dtype":"I64","shape":[3],"data_offsets":[16,40]}})",
            data);
  SafetensorsFile file(path.string());
  EXPECT_EQ(file.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(file.metadata().at("format"), "pt");
  auto a = file.load("a");
  EXPECT_EQ(a.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(a, torch::tensor({1.f, 2.f, 3.f, 4.f}).reshape({2, 2})));
  EXPECT_TRUE(torch::equal(file.load("b"), torch::tensor({7, -8, 9}, torch::kInt64)));
  auto a16 = file.load("a", torch::kBFloat16);
  EXPECT_EQ(a16.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(a16.to(torch::kFloat32), a));
}

TEST(Safetensors, WriterProducesReferenceLayout) {
  TempDir dir;
  const auto path = dir / "w.safetensors";
  auto f = torch::arange(6, torch::kFloat32).reshape({2, 3});
  auto h = torch::tensor({1.5, -2.0}, torch::kFloat16);
  auto l = torch::tensor({5, 6}, torch::kInt64);
  save_safetensors(path.string(), {{"f", f}, {"h", h}, {"l", l}}, {{"format", "pt"}});

  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  EXPECT_EQ((8 + n) % 8, 0u) << "header padded to 8 bytes";
  auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + n);
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  // 8-byte elements first, then 4, then 2: contiguous and aligned.
  EXPECT_EQ(header["l"]["data_offsets"], nlohmann::json::array({0, 16}));
  EXPECT_EQ(header["f"]["data_offsets"], nlohmann::json::array({16, 40}));
  EXPECT_EQ(header["h"]["data_offsets"], nlohmann::json::array({40, 44}));
  EXPECT_EQ(header["h"]["dtype"], "F16");
  EXPECT_EQ(header["f"]["shape"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(bytes.size(), 8 + n + 44);
  float f_back[6];
  std::memcpy(f_back, bytes.data() + 8 + n + 16, sizeof(f_back));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f_back[i], static_cast<float>(i));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}

TEST(Safetensors, RoundTripsEveryDtype) {
  TempDir dir;
  const auto path = dir / "all.safetensors";
  torch::manual_seed(3);
  std::map<std::string, torch::Tensor> tensors = {
      {"f64", torch::randn({3, 2}, torch::kFloat64)},
      {"f32", torch::randn({4, 5})},
      {"bf16", torch::randn({7}).to(torch::kBFloat16)},
      {"f16", torch::randn({2, 2, 2}).to(torch::kFloat16)},
      {"i32", torch::randint(-100, 100, {5}, torch::kInt32)},
      {"u8", torch::randint(0, 255, {3}, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"empty", torch::zeros({0, 4})},
      {"scalar", torch::tensor(2.5)},
      {"strided", torch::randn({4, 6}).t()},
  };
  save_safetensors(path.string(), tensors);
  auto back = load_safetensors(path.string());
  ASSERT_EQ(back.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    EXPECT_EQ(back[name].scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(back[name].sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(back[name], t)) << name;
  }
  // Conversion applies to floating-point tensors only.
  auto as_f32 = load_safetensors(path.string(), torch::kFloat32);
  EXPECT_EQ(as_f32["bf16"].scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(as_f32["bf16"], tensors["bf16"].to(torch::kFloat32)));
  EXPECT_EQ(as_f32["i32"].scalar_type(), torch::kInt32);
}

TEST(Safetensors, OverwritesAtomically) {
  TempDir dir;
  const auto path = (dir / "x.safetensors").string();
  save_safetensors(path, {{"a", torch::ones({3})}});
  save_safetensors(path, {{"b", torch::zeros({2})}});
  SafetensorsFile file(path);
  EXPECT_EQ(file.names(), std::vector<std::string>{"b"});
}

TEST(Safetensors, SliceLoadingMatchesSlicingTheFullTensor) {
  TempDir dir;
  const auto path = (dir / "s.safetensors").string();
  torch::manual_seed(1);
  auto w = torch::randn({10, 3, 4});
  auto b = torch::randn({9, 5}).to(torch::kBFloat16);
  save_safetensors(path, {{"w", w}, {"b", b}});
  SafetensorsFile file(path);
  EXPECT_TRUE(torch::equal(file.load_rows("w", 2, 7), w.slice(0, 2, 7)));
  EXPECT_TRUE(torch::equal(file.load_rows("w", 4, 4), w.slice(0, 4, 4)));
  EXPECT_TRUE(torch::equal(file.load_flat("w", 5, 61), w.flatten().slice(0, 5, 61)));
  EXPECT_TRUE(torch::equal(file.load_flat("b", 0, 45), b.flatten()));
  auto rows32 = file.load_rows("b", 3, 9, torch::kFloat32);
  EXPECT_EQ(rows32.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(rows32, b.slice(0, 3, 9).to(torch::kFloat32)));
  // 1/N of a tensor per rank, as FSDP shards it: the pieces concatenate to the whole.
  const int64_t n = w.numel(), parts = 3;
  std::vector<torch::Tensor> pieces;
  for (int64_t r = 0; r < parts; ++r) pieces.push_back(file.load_flat("w", r * n / parts, (r + 1) * n / parts));
  EXPECT_TRUE(torch::equal(torch::cat(pieces).reshape(w.sizes()), w));
  EXPECT_NE(error_of([&] { file.load_rows("w", 8, 11); }).find("row range [8, 11) out of bounds"), std::string::npos);
  EXPECT_NE(error_of([&] { file.load_flat("w", -1, 3); }).find("out of bounds"), std::string::npos);
  EXPECT_NE(error_of([&] { file.load("nope"); }).find("no tensor named 'nope'"), std::string::npos);
}

TEST(Safetensors, ShardedCheckpointFollowsTheIndex) {
  TempDir dir;
  auto a = torch::randn({3, 2});
  auto b = torch::randn({4});
  auto c = torch::randn({2, 2});
  save_safetensors((dir / "model-00001-of-00002.safetensors").string(), {{"a", a}, {"b", b}});
  save_safetensors((dir / "model-00002-of-00002.safetensors").string(), {{"c", c}});
  ::llamarec::testing::write_text(dir / "model.safetensors.index.json",
                                  R"({"metadata":{"total_size":84},"weight_map":{)"
                                  R"("a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)"
                                  R"("c":"model-00002-of-00002.safetensors"}})");
  SafetensorsCheckpoint ckpt(dir.path().string());
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(torch::equal(ckpt.load("a"), a));
  EXPECT_TRUE(torch::equal(ckpt.load("c"), c));
  EXPECT_TRUE(torch::equal(ckpt.load_rows("a", 1, 3), a.slice(0, 1, 3)));
  EXPECT_EQ(ckpt.entry("b").shape, std::vector<int64_t>{4});

  // The index names a shard that does not hold the tensor.
  ::llamarec::testing::write_text(dir / "model.safetensors.index.json",
                                  R"({"weight_map":{"a":"model-00002-of-00002.safetensors"}})");
  SafetensorsCheckpoint wrong(dir.path().string());
  EXPECT_NE(error_of([&] { wrong.load("a"); }).find("which does not hold it"), std::string::npos);
  // A missing shard is reported when the checkpoint is opened.
  ::llamarec::testing::write_text(dir / "model.safetensors.index.json",
                                  R"({"weight_map":{"a":"model-00003-of-00003.safetensors"}})");
  auto message = error_of([&] { SafetensorsCheckpoint missing(dir.path().string()); });
  EXPECT_NE(message.find("model-00003-of-00003.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("not found"), std::string::npos) << message;
}

TEST(Safetensors, SingleFileDirectory) {
  TempDir dir;
  auto a = torch::randn({5});
  save_safetensors((dir / "model.safetensors").string(), {{"a", a}});
  SafetensorsCheckpoint ckpt(dir.path().string());
  EXPECT_TRUE(torch::equal(ckpt.load("a"), a));
  TempDir empty;
  EXPECT_NE(error_of([&] { SafetensorsCheckpoint none(empty.path().string()); }).find("no model.safetensors"),
            std::string::npos);
}

TEST(Safetensors, RejectsCorruptFiles) {
  TempDir dir;
  const auto ok_data = bytes_of(std::vector<float>{1, 2, 3, 4});
  const std::string ok_header = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  auto expect_error = [&](const std::string& file, const std::string& header, const std::vector<uint8_t>& data,
                          const std::string& needle, std::optional<uint64_t> length = std::nullopt) {
    const auto path = dir / file;
    write_raw(path, header, data, length);
    const auto message = error_of([&] { SafetensorsFile f(path.string()); });
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << "expected '" << needle << "' in: " << message;
  };
  {
    const auto path = dir / "tiny.safetensors";
    ::llamarec::testing::write_text(path, "abc");
    EXPECT_NE(error_of([&] { SafetensorsFile f(path.string()); }).find("truncated"), std::string::npos);
  }
  expect_error("truncated.safetensors", ok_header, std::vector<uint8_t>(ok_data.begin(), ok_data.begin() + 10),
               "tensor 'a': data_offsets [0, 16] lie outside the data section (10 bytes; truncated file?)");
  expect_error("header_len.safetensors", ok_header, ok_data, "header length 5000 runs beyond the end of the file",
               5000);
  expect_error("json.safetensors", R"({"a":{"dtype":)", ok_data, "not valid JSON");
  expect_error("size.safetensors", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", ok_data,
               "tensor 'a': data_offsets [0, 16] hold 16 bytes but F32 [3] needs 12");
  expect_error("overlap.safetensors",
               R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
               ok_data, "overlaps tensor");
  expect_error("gap.safetensors", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", ok_data,
               "gap in the data section");
  expect_error("dtype.safetensors", R"({"a":{"dtype":"F8","shape":[16],"data_offsets":[0,16]}})", ok_data,
               "tensor 'a': unsupported safetensors dtype F8");
  expect_error("fields.safetensors", R"({"a":{"dtype":"F32","shape":[4]}})", ok_data,
               "tensor 'a': header entry needs dtype, shape and data_offsets");
  EXPECT_NE(error_of([&] { SafetensorsFile f((dir / "absent.safetensors").string()); }).find("cannot open"),
            std::string::npos);
}

TEST(Safetensors, ValidateCheckpointNamesEveryProblem) {
  TempDir dir;
  save_safetensors((dir / "model.safetensors").string(),
                   {{"w", torch::zeros({2, 3})}, {"extra", torch::zeros({1})}, {"inv_freq", torch::zeros({4})}});
  SafetensorsCheckpoint ckpt(dir.path().string());
  const std::vector<TensorSpec> spec = {{"w", {3, 2}}, {"bias", {3}}};
  const auto message =
      error_of([&] { validate_checkpoint(ckpt, spec, [](const std::string& name) { return name == "inv_freq"; }); });
  EXPECT_NE(message.find("tensor 'w' has shape [2, 3]"), std::string::npos) << message;
  EXPECT_NE(message.find("expected [3, 2]"), std::string::npos) << message;
  EXPECT_NE(message.find("missing tensor 'bias' [3]"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected tensor 'extra'"), std::string::npos) << message;
  EXPECT_EQ(message.find("inv_freq"), std::string::npos) << message;
  EXPECT_NO_THROW(validate_checkpoint(ckpt, {{"w", {2, 3}}, {"extra", {1}}, {"inv_freq", {4}}}));
}

}  // namespace
}  // namespace llamarec
