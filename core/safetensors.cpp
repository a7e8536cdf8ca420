#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_value.h"

namespace llamarec {

namespace {

// safetensors' own limit: a larger header is treated as corrupt.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
  const char* name;
  torch::Dtype dtype;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

std::string shape_string(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace

torch::Dtype safetensors_dtype(const std::string& dtype) {
  for (const auto& d : kDtypes) {
    if (dtype == d.name) return d.dtype;
  }
  fail("unsupported safetensors dtype {}", dtype);
}

std::string safetensors_dtype_name(torch::Dtype dtype) {
  for (const auto& d : kDtypes) {
    if (dtype == d.dtype) return d.name;
  }
  fail("dtype {} cannot be stored in safetensors", c10::toString(dtype));
}

int64_t SafetensorsEntry::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// --- SafetensorsFile -------------------------------------------------------------------------

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail("{}: cannot open safetensors file: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    fail("{}: cannot stat: {}", path, std::strerror(errno));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd_);
    fail("{}: truncated safetensors file ({} bytes, the header length alone needs 8)", path, size_);
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (map == MAP_FAILED) {
    ::close(fd_);
    fail("{}: cannot mmap {} bytes: {}", path, size_, std::strerror(errno));
  }
  map_ = static_cast<const uint8_t*>(map);

  try {
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | map_[i];  // little endian
    if (header_size > kMaxHeaderBytes)
      fail("{}: header length {} exceeds the safetensors limit of {} bytes (corrupt file?)", path, header_size,
           kMaxHeaderBytes);
    if (8 + header_size > size_)
      fail("{}: header length {} runs beyond the end of the file ({} bytes; truncated?)", path, header_size, size_);
    data_offset_ = 8 + header_size;
    const uint64_t data_size = size_ - data_offset_;

    const nlohmann::json header = parse_json(path + ": header", "", map_ + 8, map_ + 8 + header_size);
    if (!header.is_object()) fail("{}: header is not a JSON object", path);

    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const auto& value = it.value();
      if (name == "__metadata__") {
        if (!value.is_object()) fail("{}: __metadata__ is not an object", path);
        for (auto m = value.begin(); m != value.end(); ++m) {
          if (!m.value().is_string()) fail("{}: __metadata__ value of '{}' is not a string", path, m.key());
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
        fail("{}: tensor '{}': header entry needs dtype, shape and data_offsets", path, name);
      SafetensorsEntry entry;
      entry.name = name;
      if (!value["dtype"].is_string()) fail("{}: tensor '{}': dtype is not a string", path, name);
      entry.dtype = value["dtype"].get<std::string>();
      torch::Dtype dtype;
      try {
        dtype = safetensors_dtype(entry.dtype);
      } catch (const Error& e) {
        fail("{}: tensor '{}': {}", path, name, e.what());
      }
      if (!value["shape"].is_array()) fail("{}: tensor '{}': shape is not an array", path, name);
      for (const auto& d : value["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0)
          fail("{}: tensor '{}': shape {} has a non-integer or negative dimension", path, name, value["shape"].dump());
        entry.shape.push_back(d.get<int64_t>());
      }
      const auto& offsets = value["data_offsets"];
      if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
          !offsets[1].is_number_unsigned())
        fail("{}: tensor '{}': data_offsets must be two non-negative integers, got {}", path, name, offsets.dump());
      entry.begin = offsets[0].get<uint64_t>();
      entry.end = offsets[1].get<uint64_t>();
      if (entry.end < entry.begin)
        fail("{}: tensor '{}': data_offsets [{}, {}] end before they begin", path, name, entry.begin, entry.end);
      if (entry.end > data_size)
        fail("{}: tensor '{}': data_offsets [{}, {}] lie outside the data section ({} bytes; truncated file?)", path,
             name, entry.begin, entry.end, data_size);
      const uint64_t expected = static_cast<uint64_t>(entry.numel()) * c10::elementSize(dtype);
      if (entry.end - entry.begin != expected)
        fail("{}: tensor '{}': data_offsets [{}, {}] hold {} bytes but {} {} needs {}", path, name, entry.begin,
             entry.end, entry.end - entry.begin, entry.dtype, shape_string(entry.shape), expected);
      entries_.emplace(name, std::move(entry));
    }

    // Like the reference implementation: tensors tile the data section without overlaps or gaps.
    std::vector<const SafetensorsEntry*> by_offset;
    for (const auto& [name, entry] : entries_) by_offset.push_back(&entry);
    std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t cursor = 0;
    const SafetensorsEntry* previous = nullptr;
    for (const auto* entry : by_offset) {
      if (entry->begin < cursor)
        fail("{}: tensor '{}' (bytes [{}, {}]) overlaps tensor '{}' (bytes [{}, {}])", path, entry->name, entry->begin,
             entry->end, previous->name, previous->begin, previous->end);
      if (entry->begin > cursor)
        fail("{}: tensor '{}' starts at byte {} but the previous tensor ends at {} (gap in the data section)", path,
             entry->name, entry->begin, cursor);
      cursor = entry->end;
      previous = entry;
    }
    if (cursor != data_size)
      fail("{}: tensors cover {} bytes of a {}-byte data section (trailing bytes or corrupt header)", path, cursor,
           data_size);
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), size_);
    ::close(fd_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), size_);
  if (fd_ >= 0) ::close(fd_);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

bool SafetensorsFile::contains(const std::string& name) const { return entries_.count(name) != 0; }

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail("{}: no tensor named '{}'", path_, name);
  return it->second;
}

torch::Tensor SafetensorsFile::view_elements(const SafetensorsEntry& entry, int64_t begin, int64_t count,
                                             std::optional<torch::Dtype> dtype) const {
  const auto stored = safetensors_dtype(entry.dtype);
  const auto element = static_cast<int64_t>(c10::elementSize(stored));
  const uint8_t* data = map_ + data_offset_ + entry.begin + begin * element;
  // A view of the mapped bytes; the copy below makes the result independent of the mapping.
  auto view = torch::from_blob(const_cast<uint8_t*>(data), {count}, torch::TensorOptions().dtype(stored));
  if (dtype && *dtype != stored) return view.to(*dtype);
  return view.clone();
}

torch::Tensor SafetensorsFile::load(const std::string& name, std::optional<torch::Dtype> dtype) const {
  const auto& e = entry(name);
  return view_elements(e, 0, e.numel(), dtype).reshape(e.shape);
}

torch::Tensor SafetensorsFile::load_rows(const std::string& name, int64_t begin, int64_t end,
                                         std::optional<torch::Dtype> dtype) const {
  const auto& e = entry(name);
  if (e.shape.empty()) fail("{}: tensor '{}' is a scalar and has no rows", path_, name);
  if (begin < 0 || begin > end || end > e.shape[0])
    fail("{}: tensor '{}' {}: row range [{}, {}) out of bounds", path_, name, shape_string(e.shape), begin, end);
  const int64_t row = e.shape[0] == 0 ? 0 : e.numel() / e.shape[0];
  auto shape = e.shape;
  shape[0] = end - begin;
  return view_elements(e, begin * row, (end - begin) * row, dtype).reshape(shape);
}

torch::Tensor SafetensorsFile::load_flat(const std::string& name, int64_t begin, int64_t end,
                                         std::optional<torch::Dtype> dtype) const {
  const auto& e = entry(name);
  if (begin < 0 || begin > end || end > e.numel())
    fail("{}: tensor '{}' ({} elements): flat range [{}, {}) out of bounds", path_, name, e.numel(), begin, end);
  return view_elements(e, begin, end - begin, dtype);
}

// --- SafetensorsCheckpoint -------------------------------------------------------------------

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  fs::path target = path;
  if (fs::is_directory(target)) {
    if (fs::exists(target / "model.safetensors.index.json")) {
      target /= "model.safetensors.index.json";
    } else if (fs::exists(target / "model.safetensors")) {
      target /= "model.safetensors";
    } else {
      fail("{}: no model.safetensors.index.json or model.safetensors in this directory", path);
    }
  } else if (!fs::exists(target)) {
    fail("{}: checkpoint not found", path);
  }
  path_ = target.string();

  if (target.extension() == ".json") {
    nlohmann::json index;
    try {
      std::ifstream in(target);
      index = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not a valid JSON index: {}", path_, e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail("{}: index has no weight_map object", path_);
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail("{}: weight_map entry '{}' is not a file name", path_, it.key());
      const auto shard = (target.parent_path() / it.value().get<std::string>()).string();
      if (!fs::exists(shard)) fail("{}: shard {} (holding '{}') not found", path_, shard, it.key());
      shard_of_[it.key()] = shard;
    }
  } else {
    const auto& file = open(path_);
    for (const auto& name : file.names()) shard_of_[name] = path_;
  }
}

const SafetensorsFile& SafetensorsCheckpoint::open(const std::string& file) const {
  auto it = files_.find(file);
  if (it == files_.end()) it = files_.emplace(file, std::make_unique<SafetensorsFile>(file)).first;
  return *it->second;
}

std::vector<std::string> SafetensorsCheckpoint::files() const {
  std::set<std::string> shards;
  for (const auto& [name, shard] : shard_of_) shards.insert(shard);
  std::vector<std::string> out;
  if (shards.count(path_) == 0) out.push_back(path_);
  out.insert(out.end(), shards.begin(), shards.end());
  return out;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, shard] : shard_of_) out.push_back(name);
  return out;
}

bool SafetensorsCheckpoint::contains(const std::string& name) const { return shard_of_.count(name) != 0; }

const SafetensorsFile& SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = shard_of_.find(name);
  if (it == shard_of_.end()) fail("{}: no tensor named '{}'", path_, name);
  const auto& file = open(it->second);
  if (!file.contains(name)) fail("{}: index places '{}' in {}, which does not hold it", path_, name, it->second);
  return file;
}

const SafetensorsEntry& SafetensorsCheckpoint::entry(const std::string& name) const {
  return file_of(name).entry(name);
}

torch::Tensor SafetensorsCheckpoint::load(const std::string& name, std::optional<torch::Dtype> dtype) const {
  return file_of(name).load(name, dtype);
}

torch::Tensor SafetensorsCheckpoint::load_rows(const std::string& name, int64_t begin, int64_t end,
                                               std::optional<torch::Dtype> dtype) const {
  return file_of(name).load_rows(name, begin, end, dtype);
}

torch::Tensor SafetensorsCheckpoint::load_flat(const std::string& name, int64_t begin, int64_t end,
                                               std::optional<torch::Dtype> dtype) const {
  return file_of(name).load_flat(name, begin, end, dtype);
}

void validate_checkpoint(const SafetensorsCheckpoint& checkpoint, const std::vector<TensorSpec>& expected,
                         const std::function<bool(const std::string&)>& ignore) {
  std::vector<std::string> problems;
  std::set<std::string> wanted;
  for (const auto& spec : expected) {
    wanted.insert(spec.name);
    if (!checkpoint.contains(spec.name)) {
      problems.push_back(fmt::format("missing tensor '{}' {}", spec.name, shape_string(spec.shape)));
      continue;
    }
    const auto& entry = checkpoint.entry(spec.name);
    if (entry.shape != spec.shape)
      problems.push_back(fmt::format("tensor '{}' has shape {} ({}), expected {}", spec.name, shape_string(entry.shape),
                                     checkpoint.file_of(spec.name).path(), shape_string(spec.shape)));
  }
  for (const auto& name : checkpoint.names()) {
    if (!wanted.count(name) && !(ignore && ignore(name)))
      problems.push_back(fmt::format("unexpected tensor '{}'", name));
  }
  if (problems.empty()) return;
  constexpr size_t kShown = 12;
  std::string list;
  for (size_t i = 0; i < problems.size() && i < kShown; ++i) list += "\n  " + problems[i];
  if (problems.size() > kShown) list += fmt::format("\n  ... and {} more", problems.size() - kShown);
  fail("{}: checkpoint does not match the model ({} problems):{}", checkpoint.path(), problems.size(), list);
}

// --- writing ---------------------------------------------------------------------------------

void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Larger elements first (then by name), as the reference writer does: with the header padded to
  // 8 bytes every tensor is naturally aligned, and the data section has no gaps.
  std::vector<std::pair<std::string, torch::Tensor>> order;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") fail("{}: '__metadata__' is reserved and cannot name a tensor", path);
    if (!tensor.defined()) fail("{}: tensor '{}' is undefined", path, name);
    order.emplace_back(name, tensor.detach().to(torch::kCPU).contiguous());
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second.element_size() > b.second.element_size(); });

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : order) {
    const uint64_t bytes = tensor.numel() * tensor.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(tensor.scalar_type())},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  commit_file_atomic(path, [&](const std::string& tmp) {
    FILE* out = std::fopen(tmp.c_str(), "wb");
    if (out == nullptr) fail("{}: cannot create: {}", tmp, std::strerror(errno));
    bool ok = std::fwrite(length, 1, 8, out) == 8;
    ok = ok && std::fwrite(text.data(), 1, text.size(), out) == text.size();
    for (const auto& [name, tensor] : order) {
      const size_t bytes = tensor.numel() * tensor.element_size();
      ok = ok && (bytes == 0 || std::fwrite(tensor.data_ptr(), 1, bytes, out) == bytes);
    }
    // fsync before the rename: a crash must leave either the old file or the complete new one.
    ok = ok && std::fflush(out) == 0 && ::fsync(::fileno(out)) == 0;
    const int error = errno;
    ok = (std::fclose(out) == 0) && ok;
    if (!ok) fail("{}: write failed: {}", tmp, std::strerror(error));
  });
}

std::map<std::string, torch::Tensor> load_safetensors(const std::string& path, std::optional<torch::Dtype> dtype) {
  SafetensorsFile file(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& name : file.names()) {
    const bool floating = c10::isFloatingType(safetensors_dtype(file.entry(name).dtype));
    out[name] = file.load(name, floating ? dtype : std::nullopt);
  }
  return out;
}

}  // namespace llamarec
