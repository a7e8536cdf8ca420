#include "pipelines/artifact_info.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/candidates_file.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/progress.h"
#include "core/safetensors.h"
#include "models/llama_config.h"
#include "pipelines/dataset_info.h"
#include "pipelines/metrics_file.h"
#include "pipelines/results_table.h"
#include "pipelines/stages.h"
#include "pipelines/training/checkpointer.h"

namespace fs = std::filesystem;

namespace llamarec {
namespace {

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail("{}: not a JSON object", path.string());
  return j;
}

// Elements of the tensors whose names start (or, with `averages` false, do not start) with
// "average.": a training state keeps the moving average of each parameter under that prefix.
int64_t parameter_count(const SafetensorsFile& file, bool averages = false) {
  int64_t n = 0;
  for (const auto& name : file.names()) {
    if ((name.rfind("average.", 0) == 0) != averages) continue;
    int64_t numel = 1;
    for (const auto d : file.entry(name).shape) numel *= d;
    n += numel;
  }
  return n;
}

std::string candidates_info(const std::string& path) {
  const auto c = read_candidates(path);
  std::string out =
      fmt::format("{}: retriever candidates, top {} of {} items, {} users\n", path, c.k, c.num_items, c.num_users);
  for (const auto& [name, split] : {std::pair<const char*, const CandidateSplit&>{"val", c.val}, {"test", c.test}}) {
    const int64_t users = split.user.numel();
    out += fmt::format("  {:<5} {:>7} users | answer in the top", name, users);
    const auto hit = split.items.eq(split.label.unsqueeze(1));  // [U, k]
    for (const int64_t k : {1, 5, 10, 20}) {
      if (k > c.k) continue;
      const double share =
          users > 0 ? hit.narrow(1, 0, k).any(1).sum().item<double>() / static_cast<double>(users) : 0.0;
      out += fmt::format(" {}: {:.4f}", k, share);
    }
    out += "\n";
  }
  out += "  provenance (the full-ranking metrics are in metrics.json):";
  for (const auto& [key, value] : c.attributes) {
    if (key.find('@') == std::string::npos) out += fmt::format("\n    {} = {}", key, to_string(value));
  }
  return out + "\n";
}

std::string safetensors_info(const std::string& path) {
  const SafetensorsFile file(path);
  const int64_t averaged = parameter_count(file, /*averages=*/true);
  std::string out =
      fmt::format("{}: safetensors, {} tensors, {} parameters{}\n", path, file.names().size(), parameter_count(file),
                  averaged > 0 ? fmt::format(" (and their moving averages, average.*: {})", averaged) : "");
  if (!file.metadata().empty()) {
    out += "  metadata:";
    for (const auto& [k, v] : file.metadata())
      out += fmt::format("\n    {} = {}", k, v.size() > 400 ? v.substr(0, 400) + "..." : v);
    out += "\n";
  }
  return out;
}

// A resumable training state (pipelines/training/checkpointer.h): its saved steps, where the newest
// stands, and the identity a run must match to resume it, so that "why did it start over?" can be
// answered by comparing this with the warning's key.
std::string training_state_info(const fs::path& dir, const std::vector<std::string>& steps) {
  const fs::path newest = steps.front();
  const auto state = read_json(newest / "state.json");
  std::vector<std::string> names;
  for (const auto& s : steps) names.push_back(fs::path(s).filename().string());
  std::string out =
      fmt::format("{}: training state, {} saved ({})\n", dir.string(), steps.size(), fmt::join(names, ", "));
  out += fmt::format("  step {} | best {:.4f} at step {} | {} validations without improvement | {} trained\n",
                     state.value("step", int64_t{-1}), state.value("best_metric", 0.0),
                     state.value("best_step", int64_t{-1}), state.value("bad_validations", int64_t{0}),
                     format_duration(state.value("elapsed", 0.0)));
  const auto generators = newest / "generators.safetensors";
  if (fs::exists(generators)) {
    const SafetensorsFile file(generators.string());
    if (file.contains("generators") && !file.entry("generators").shape.empty())
      out += fmt::format("  saved by {} rank(s)\n", file.entry("generators").shape[0]);
  }
  const auto parameters = newest / "parameters.safetensors";
  if (fs::exists(parameters)) {
    const SafetensorsFile file(parameters.string());
    out += fmt::format("  {} parameters\n", parameter_count(file));
  }
  const auto identity = state.value("identity_values", nlohmann::json::object());
  out += fmt::format("  identity (what a run must match to resume it; {} keys):\n", identity.size());
  for (const auto& [key, value] : identity.items())
    out += fmt::format("    {} = {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  return out;
}

std::string adapter_info(const fs::path& dir) {
  const auto config = read_json(dir / "adapter_config.json");
  const SafetensorsFile weights((dir / "adapter_model.safetensors").string());
  return fmt::format(
      "{}: PEFT {} adapter for {}\n  r {} | lora_alpha {} | dropout {} | targets {}\n  {} tensors, {} parameters\n",
      dir.string(), config.value("peft_type", "?"), config.value("base_model_name_or_path", "?"),
      config.value("r", nlohmann::json()).dump(), config.value("lora_alpha", nlohmann::json()).dump(),
      config.value("lora_dropout", nlohmann::json()).dump(), config.value("target_modules", nlohmann::json()).dump(),
      weights.names().size(), parameter_count(weights));
}

std::string llama_info(const fs::path& dir) {
  const auto c = load_llama_config(dir.string());
  std::string out = fmt::format(
      "{}: Hugging Face Llama{}\n  vocab {} | hidden {} | MLP {} | layers {} | heads {} (key/value {}) | "
      "positions {}\n  {} parameters\n",
      dir.string(), fs::exists(dir / "llamarec_builtin.json") ? " (llamarec's built-in base)" : "", c.vocab_size,
      c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads,
      c.max_position_embeddings, llama_parameter_count(c));
  out += fmt::format("  tokenizer.model: {}\n", fs::exists(dir / "tokenizer.model") ? "present" : "absent");
  return out;
}

std::string run_dir_info(const fs::path& dir) {
  std::string out = fmt::format("{}: run directory\n  stages:", dir.string());
  const auto metrics_path = dir / "metrics.json";
  const auto metrics = fs::exists(metrics_path) ? read_metrics_file(metrics_path.string()) : nlohmann::json::object();
  for (const auto& stage : pipeline_stages()) {
    const auto marker = dir / ".done" / stage.name;
    out += fmt::format("\n    {:<20} {}", stage.name, fs::exists(marker) ? "done" : "-");
    const auto& t = metrics.value("timings", nlohmann::json::object());
    if (t.contains(stage.name) && t[stage.name].is_number())
      out += " in " + format_duration(t[stage.name].get<double>());
  }
  out += "\n" + format_results_table(metrics);
  if (metrics.contains("manifest")) {
    for (const auto& [stage, m] : metrics["manifest"].items())
      out +=
          fmt::format("  manifest ({}): commit {}, {} ranks, LibTorch {}\n", stage, m.value("git_commit", "?"),
                      m.value("world_size", 0), m.value("versions", nlohmann::json::object()).value("libtorch", "?"));
  }
  return out;
}

}  // namespace

std::string artifact_info(const std::string& path) {
  const fs::path p(path);
  if (!fs::exists(p)) fail("{}: no such file or directory", path);
  if (fs::is_directory(p)) {
    if (const auto steps = saved_states(path); !steps.empty()) return training_state_info(p, steps);
    if (fs::exists(p / "adapter_config.json")) return adapter_info(p);
    if (fs::exists(p / "config.json")) return llama_info(p);
    if (fs::exists(p / "metrics.json") || fs::exists(p / ".done")) return run_dir_info(p);
    fail(
        "{}: not a run directory, a training state, a PEFT adapter or a Hugging Face model (no metrics.json, "
        ".done/, step-N/, adapter_config.json or config.json)",
        path);
  }
  if (p.extension() == ".safetensors") return safetensors_info(path);
  if (p.extension() == ".h5") {
    const bool candidates = Hdf5File(path, Hdf5File::Mode::kRead).exists("/test/items");
    return candidates ? candidates_info(path) : dataset_info(path);
  }
  fail("{}: not a llamarec artefact (.h5 dataset or candidates, .safetensors, or a directory)", path);
}

}  // namespace llamarec
