#include "pipelines/input_files.h"

#include <chrono>
#include <filesystem>

#include "core/content_hash.h"

namespace fs = std::filesystem;

namespace llamarec {

std::vector<InputFile> ranker_base_files(const Config& config) {
  const auto base = config.ranker.model.empty() ? config.in_run_dir(config.builtin_llama.dir) : config.ranker.model;
  return {{"base_config", (fs::path(base) / "config.json").string()},
          {"tokenizer",
           config.ranker.tokenizer.empty() ? (fs::path(base) / "tokenizer.model").string() : config.ranker.tokenizer}};
}

nlohmann::json describe_input_file(const std::string& path) {
  constexpr uintmax_t kDigestLimit = uintmax_t{512} << 20;
  std::error_code ec;
  if (path.empty() || !fs::is_regular_file(path, ec)) return nullptr;
  const auto size = fs::file_size(path);
  if (size <= kDigestLimit) return {{"bytes", size}, {"fnv1a64", file_digest(path)}};
  const auto mtime = fs::last_write_time(path).time_since_epoch();
  return {{"bytes", size}, {"mtime_ns", std::chrono::duration_cast<std::chrono::nanoseconds>(mtime).count()}};
}

}  // namespace llamarec
