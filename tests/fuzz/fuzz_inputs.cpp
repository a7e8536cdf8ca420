#include "tests/fuzz/fuzz_inputs.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string_view>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/llama_config.h"
#include "pipelines/config.h"
#include "pipelines/importers/amazon.h"
#include "pipelines/importers/movielens.h"
#include "pipelines/importers/python_literal.h"
#include "pipelines/importers/recbole.h"
#include "core/text_encoding.h"

namespace fs = std::filesystem;

namespace llamarec {
namespace {

// A scratch folder of this process, emptied for every input.
fs::path scratch() {
  static const fs::path dir = fs::temp_directory_path() / ("llamarec-fuzz-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The input split at "\n===\n" into up to `n` files' contents (the rest empty).
std::vector<std::string_view> parts(const uint8_t* data, size_t size, size_t n) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    const auto at = all.find("\n===\n");
    if (at == std::string_view::npos) break;
    out.push_back(all.substr(0, at));
    all.remove_prefix(at + 5);
  }
  out.push_back(all);
  out.resize(n);
  return out;
}

// Bad input must be an Error; that is the parser doing its job.
void rejecting_is_fine(const std::function<void()>& run) {
  try {
    run();
  } catch (const Error&) {
  }
}

void fuzz_safetensors(const uint8_t* data, size_t size) {
  const auto path = scratch() / "model.safetensors";
  write(path, {reinterpret_cast<const char*>(data), size});
  rejecting_is_fine([&] {
    const SafetensorsFile file(path.string());
    for (const auto& name : file.names()) file.load(name);
  });
}

void fuzz_config(const uint8_t* data, size_t size) {
  const auto path = scratch() / "config.toml";
  write(path, {reinterpret_cast<const char*>(data), size});
  rejecting_is_fine([&] { load_config(path.string()); });
}

void fuzz_hf_config(const uint8_t* data, size_t size) {
  const auto path = scratch() / "config.json";
  write(path, {reinterpret_cast<const char*>(data), size});
  rejecting_is_fine([&] { load_llama_config(path.string()); });
}

void fuzz_python_literal(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!is_valid_utf8(text)) return;  // the importer checks before it parses (the parser's contract)
  rejecting_is_fine([&] { parse_python_literal(text); });
}

// ratings.csv \n===\n movies.csv
void fuzz_movielens(const uint8_t* data, size_t size) {
  const auto dir = scratch();
  const auto p = parts(data, size, 2);
  write(dir / "ratings.csv", p[0]);
  write(dir / "movies.csv", p[1]);
  rejecting_is_fine([&] { import_movielens(dir.string()); });
}

// ratings CSV \n===\n metadata (JSON or Python-literal lines)
void fuzz_amazon(const uint8_t* data, size_t size) {
  const auto dir = scratch();
  const auto p = parts(data, size, 2);
  write(dir / "ratings.csv", p[0]);
  write(dir / "meta.json", p[1]);
  rejecting_is_fine([&] { import_amazon((dir / "ratings.csv").string(), (dir / "meta.json").string()); });
}

// NAME.inter \n===\n NAME.item
void fuzz_recbole(const uint8_t* data, size_t size) {
  const auto dir = scratch();
  const auto p = parts(data, size, 2);
  write(dir / "fuzz.inter", p[0]);
  write(dir / "fuzz.item", p[1]);
  rejecting_is_fine([&] { import_recbole((dir / "fuzz.inter").string(), ""); });
}

}  // namespace

const std::vector<FuzzTarget>& fuzz_targets() {
  static const std::vector<FuzzTarget> targets = {
      {"safetensors", fuzz_safetensors}, {"config", fuzz_config},
      {"hf_config", fuzz_hf_config},     {"python_literal", fuzz_python_literal},
      {"movielens", fuzz_movielens},     {"amazon", fuzz_amazon},
      {"recbole", fuzz_recbole},
  };
  return targets;
}

const FuzzTarget& fuzz_target(const std::string& name) {
  for (const auto& t : fuzz_targets()) {
    if (name == t.name) return t;
  }
  fail("no fuzz target '{}'", name);
}

}  // namespace llamarec
