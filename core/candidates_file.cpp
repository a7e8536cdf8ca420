#include "core/candidates_file.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"

namespace llamarec {
namespace {

constexpr int64_t kCandidatesSchemaVersion = 1;

template <typename T>
std::vector<T> to_vector(const torch::Tensor& t, torch::ScalarType dtype) {
  auto c = t.to(torch::kCPU, dtype).contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

void write_split(Hdf5File& file, const std::string& name, const CandidateSplit& s, int64_t k) {
  const int64_t n = s.user.numel();
  if (s.items.dim() != 2 || s.items.size(0) != n || s.items.size(1) != k || s.scores.sizes() != s.items.sizes() ||
      s.label.numel() != n) {
    fail("{}: inconsistent candidate shapes for /{}", file.path(), name);
  }
  file.create_group("/" + name);
  file.write_int64("/" + name + "/user", to_vector<int64_t>(s.user, torch::kLong));
  file.write_int64("/" + name + "/label", to_vector<int64_t>(s.label, torch::kLong));
  file.write_int64_2d("/" + name + "/items", to_vector<int64_t>(s.items, torch::kLong), n, k);
  file.write_float32_2d("/" + name + "/scores", to_vector<float>(s.scores, torch::kFloat32), n, k);
  if (s.history_end.defined()) {
    if (s.history_end.numel() != n) fail("{}: inconsistent candidate shapes for /{}/history_end", file.path(), name);
    file.write_int64("/" + name + "/history_end", to_vector<int64_t>(s.history_end, torch::kLong));
  }
}

CandidateSplit read_split(const Hdf5File& file, const std::string& name, int64_t k) {
  CandidateSplit s;
  const auto user = file.read_int64("/" + name + "/user");
  const auto label = file.read_int64("/" + name + "/label");
  const auto n = static_cast<int64_t>(user.size());
  if (static_cast<int64_t>(label.size()) != n)
    fail("{}: /{}/label and /{}/user differ in length", file.path(), name, name);
  int64_t rows = 0, cols = 0;
  auto items = file.read_int64_2d("/" + name + "/items", &rows, &cols);
  if (rows != n || cols != k) fail("{}: /{}/items is [{}, {}], expected [{}, {}]", file.path(), name, rows, cols, n, k);
  auto scores = file.read_float32_2d("/" + name + "/scores", &rows, &cols);
  if (rows != n || cols != k)
    fail("{}: /{}/scores is [{}, {}], expected [{}, {}]", file.path(), name, rows, cols, n, k);
  s.user = torch::tensor(user, torch::kLong);
  s.label = torch::tensor(label, torch::kLong);
  s.items = torch::tensor(items, torch::kLong).view({n, k});
  s.scores = torch::tensor(scores, torch::kFloat32).view({n, k});
  if (file.exists("/" + name + "/history_end")) {
    const auto history_end = file.read_int64("/" + name + "/history_end");
    if (static_cast<int64_t>(history_end.size()) != n)
      fail("{}: /{}/history_end and /{}/user differ in length", file.path(), name, name);
    s.history_end = torch::tensor(history_end, torch::kLong);
  }
  return s;
}

int64_t int_attribute(const Hdf5File& file, const std::string& name) {
  if (!file.has_attribute(name)) fail("{}: missing attribute {}", file.path(), name);
  const auto value = file.attribute(name);
  if (const auto* v = std::get_if<int64_t>(&value)) return *v;
  fail("{}: attribute {} must be an integer", file.path(), name);
}

}  // namespace

void write_candidates(const std::string& path, const Candidates& c) {
  commit_file_atomic(path, [&](const std::string& tmp) {
    Hdf5File file(tmp, Hdf5File::Mode::kCreate);
    write_split(file, "val", c.val, c.k);
    write_split(file, "test", c.test, c.k);
    if (c.has_train()) {
      if (!c.train.history_end.defined()) fail("{}: /train candidates need history_end", path);
      write_split(file, "train", c.train, c.k);
    }
    for (const auto& [key, value] : c.attributes) file.set_attribute(key, value);
    file.set_attribute("schema_version", kCandidatesSchemaVersion);
    file.set_attribute("created_by", std::string("llamarec"));
    file.set_attribute("k", c.k);
    file.set_attribute("num_users", c.num_users);
    file.set_attribute("num_items", c.num_items);
    file.close();
  });
}

Candidates read_candidates(const std::string& path) {
  if (!std::filesystem::exists(path)) fail("{}: candidates file not found (run retrieve first)", path);
  const Hdf5File file(path, Hdf5File::Mode::kRead);
  if (!file.has_attribute("schema_version") || int_attribute(file, "schema_version") != kCandidatesSchemaVersion) {
    fail("{}: not a llamarec candidates file (schema_version {} expected)", path, kCandidatesSchemaVersion);
  }
  Candidates c;
  c.attributes = file.attributes();
  c.k = int_attribute(file, "k");
  c.num_users = int_attribute(file, "num_users");
  c.num_items = int_attribute(file, "num_items");
  c.val = read_split(file, "val", c.k);
  c.test = read_split(file, "test", c.k);
  if (file.exists("/train")) {
    c.train = read_split(file, "train", c.k);
    if (!c.train.history_end.defined()) fail("{}: /train/history_end is missing", path);
  }
  return c;
}

}  // namespace llamarec
