// safetensors checkpoints (https://github.com/huggingface/safetensors): 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then raw data.
// Files are memory-mapped, so reading one tensor, a row range or a flat slice touches only those
// bytes: a rank of a sharded run reads just its 1/N of a 7B checkpoint.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llamarec {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as written in the header: "F32", "BF16", "F16", "I64", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the data section
  uint64_t end = 0;

  int64_t numel() const;
};

// One .safetensors file, memory-mapped read-only and validated on open (header length, JSON,
// dtypes, offsets inside the file, sizes matching dtype*shape, no overlaps).
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;

  // The whole tensor as an owned tensor; `dtype` converts (nullopt keeps the stored dtype).
  torch::Tensor load(const std::string& name, std::optional<torch::Dtype> dtype = std::nullopt) const;
  // Rows [begin, end) of dim 0, shape [end-begin, ...]; reads only those bytes.
  torch::Tensor load_rows(const std::string& name, int64_t begin, int64_t end,
                          std::optional<torch::Dtype> dtype = std::nullopt) const;
  // Elements [begin, end) of the row-major flattened tensor, shape [end-begin]; reads only those bytes.
  torch::Tensor load_flat(const std::string& name, int64_t begin, int64_t end,
                          std::optional<torch::Dtype> dtype = std::nullopt) const;

 private:
  torch::Tensor view_elements(const SafetensorsEntry& entry, int64_t begin, int64_t count,
                              std::optional<torch::Dtype> dtype) const;

  std::string path_;
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  uint64_t data_offset_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint: one file or a Hugging Face sharded set (model.safetensors.index.json with a
// weight_map from tensor name to shard file). Shards are opened lazily.
class SafetensorsCheckpoint {
 public:
  // `path`: a .safetensors file, an index .json, or a directory holding model.safetensors.index.json
  // or model.safetensors.
  explicit SafetensorsCheckpoint(const std::string& path);

  const std::string& path() const { return path_; }
  // Every file it reads: the index (if any) first, then its shards, sorted.
  std::vector<std::string> files() const;
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;
  // The file that holds `name`.
  const SafetensorsFile& file_of(const std::string& name) const;

  torch::Tensor load(const std::string& name, std::optional<torch::Dtype> dtype = std::nullopt) const;
  torch::Tensor load_rows(const std::string& name, int64_t begin, int64_t end,
                          std::optional<torch::Dtype> dtype = std::nullopt) const;
  torch::Tensor load_flat(const std::string& name, int64_t begin, int64_t end,
                          std::optional<torch::Dtype> dtype = std::nullopt) const;

 private:
  std::string path_;
  std::map<std::string, std::string> shard_of_;  // tensor name -> shard file path
  mutable std::map<std::string, std::unique_ptr<SafetensorsFile>> files_;
  const SafetensorsFile& open(const std::string& file) const;
};

// Expected name and shape of a tensor, for validating a checkpoint against a model.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// Fails, naming the checkpoint and the tensors, unless it holds exactly `expected` (names and
// shapes); names for which `ignore(name)` is true may be present in addition.
void validate_checkpoint(const SafetensorsCheckpoint& checkpoint, const std::vector<TensorSpec>& expected,
                         const std::function<bool(const std::string&)>& ignore = {});

// Writes `tensors` (any device, contiguous or not) with `metadata` as one .safetensors file,
// atomically: a temporary file beside `path`, then rename.
void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Whole file into memory: every tensor in its stored dtype, floating-point ones converted to `dtype`
// when given.
std::map<std::string, torch::Tensor> load_safetensors(const std::string& path,
                                                      std::optional<torch::Dtype> dtype = std::nullopt);

// Header dtype string <-> torch dtype ("F32" <-> kFloat, "BF16" <-> kBFloat16, ...).
torch::Dtype safetensors_dtype(const std::string& dtype);
std::string safetensors_dtype_name(torch::Dtype dtype);

}  // namespace llamarec
