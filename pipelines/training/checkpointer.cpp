#include "pipelines/training/checkpointer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_value.h"
#include "core/fault_injection.h"
#include "core/safetensors.h"
#include "pipelines/config_diff.h"
#include "pipelines/training/generator_state.h"
#include "pipelines/training/optimizer_state.h"
#include "pipelines/training/run_identity.h"

namespace fs = std::filesystem;

namespace llamarec {
namespace {

struct StepDir {
  int64_t step;
  fs::path path;
};

// The committed step directories, newest first (a `.new` one is an interrupted write).
std::vector<StepDir> step_dirs(const std::string& dir) {
  std::vector<StepDir> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  static const std::regex name(R"(step-(\d{1,18}))");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const auto file = entry.path().filename().string();
    if (entry.is_directory() && std::regex_match(file, m, name)) out.push_back({std::stoll(m[1]), entry.path()});
  }
  std::sort(out.begin(), out.end(), [](const StepDir& a, const StepDir& b) { return a.step > b.step; });
  return out;
}

std::string step_dir_name(int64_t step) { return fmt::format("step-{:08d}", step); }

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read {}", path.string());
  return parse_json(path.string(), "", in);
}

// The identity a state was saved with: `identity_values`, the key = value pairs. Releases up to
// c17e43a saved `identity`, the whole config's TOML text (comments included, every section): its
// `key = value` lines under `[section]` are read back, keeping only the keys `now` has, since that
// text also held the sections the trainer ignores. (The pairs have a key of their own so that
// those releases, which read `identity` as a string, see another identity and start over.)
// nullopt: none recorded.
std::optional<ConfigValues> saved_identity(const nlohmann::json& state, const ConfigValues& now) {
  ConfigValues out;
  const auto values = state.find("identity_values");
  if (values != state.end() && values->is_object()) {
    for (const auto& [key, value] : values->items())
      out[key] = value.is_string() ? value.get<std::string>() : value.dump();
    return out;
  }
  const auto it = state.find("identity");
  if (it == state.end() || !it->is_string()) return std::nullopt;
  std::istringstream text(it->get<std::string>());
  std::string line, section;
  while (std::getline(text, line)) {
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const auto key = section + "." + line.substr(0, eq);
    if (now.count(key)) out[key] = line.substr(eq + 3);
  }
  return out;
}

}  // namespace

std::vector<std::string> saved_states(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& d : step_dirs(dir)) out.push_back(d.path.string());
  return out;
}

std::string newest_saved_state(const std::string& dir) {
  const auto saved = step_dirs(dir);
  return saved.empty() ? std::string() : saved.front().path.string();
}

Checkpointer::Checkpointer(std::string dir, ConfigValues identity, Communicator& comm, torch::Device device, int keep)
    : dir_(std::move(dir)), identity_(std::move(identity)), comm_(comm), device_(device), keep_(std::max(1, keep)) {}

void Checkpointer::save(const TrainingState& state, const std::map<std::string, torch::Tensor>& tensors,
                        torch::optim::Optimizer& optimizer) {
  const auto mine = capture_generator_state(device_).to(comm_.device());   // uint8 [n]
  auto all = torch::empty({comm_.size() * mine.numel()}, mine.options());  // uint8 [ranks * n]
  comm_.all_gather(mine, all);
  if (comm_.rank() != 0) return;

  if (discard_saved_) {
    for (const auto& d : step_dirs(dir_)) fs::remove_all(d.path);
    discard_saved_ = false;
  }
  const auto target = (fs::path(dir_) / step_dir_name(state.step)).string();
  commit_directory_atomic(target, [&](const std::string& new_path) {
    const fs::path new_dir(new_path);
    std::map<std::string, torch::Tensor> detached;
    for (const auto& [name, tensor] : tensors) detached[name] = tensor.detach();
    save_safetensors((new_dir / "parameters.safetensors").string(), detached);
    save_safetensors((new_dir / "optimizer.safetensors").string(), optimizer_state_tensors(optimizer, tensors));
    save_safetensors((new_dir / "generators.safetensors").string(),
                     {{"generators", all.to(torch::kCPU).reshape({comm_.size(), mine.numel()})}});
    auto j = to_json(state);
    j["identity_values"] = identity_;
    write_file_atomic((new_dir / "state.json").string(), j.dump(1));
    fault_at(FaultPoint::kCheckpoint, state.step);
  });
  // Keep the newest `keep_`; anything else (older steps, interrupted writes) goes.
  const auto now = step_dirs(dir_);
  for (size_t i = static_cast<size_t>(keep_); i < now.size(); ++i) fs::remove_all(now[i].path);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const auto file = entry.path().filename().string();
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".new") == 0) fs::remove_all(entry.path());
  }
}

namespace {

// Rank 0's identity, on every rank (collective): its JSON text, length first.
ConfigValues identity_of_rank_zero(const ConfigValues& mine, Communicator& comm) {
  const std::string text = comm.rank() == 0 ? nlohmann::json(mine).dump() : std::string();
  auto length = torch::tensor({static_cast<int64_t>(text.size())}, torch::kInt64).to(comm.device());
  comm.broadcast(length, 0);
  auto bytes = torch::zeros({length.cpu().item<int64_t>()}, torch::kUInt8);
  if (comm.rank() == 0) std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
  bytes = bytes.to(comm.device());
  comm.broadcast(bytes, 0);
  bytes = bytes.cpu();
  return nlohmann::json::parse(
             std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel())))
      .get<ConfigValues>();
}

// Whether any rank reports true (collective).
bool any_rank(bool mine, Communicator& comm) {
  auto flag = torch::tensor({mine ? int64_t{1} : int64_t{0}}, torch::kInt64).to(comm.device());
  comm.all_reduce(flag, ReduceOp::kMax);
  return flag.cpu().item<int64_t>() != 0;
}

}  // namespace

std::optional<Checkpointer::Resumed> Checkpointer::load(const std::map<std::string, torch::Tensor>& tensors,
                                                        torch::optim::Optimizer& optimizer) {
  // Ranks that disagree would train apart and end in mismatched collectives: each decides alone
  // (from its own config and its node's copies of the inputs, then from what it finds in dir_), so
  // both decisions are checked against rank 0's before anything trains.
  const auto reference = identity_of_rank_zero(identity_, comm_);
  const auto differing = identity_differences(reference, identity_);
  if (any_rank(!differing.empty(), comm_)) {
    if (differing.empty())
      fail("{}: another rank's training identity differs from rank 0's (its error names the key)", dir_);
    const auto& key = differing.front();
    const auto value = [&](const ConfigValues& values) {
      const auto it = values.find(key);
      return it == values.end() ? std::string("(absent)") : it->second;
    };
    fail(
        "{}: this rank's training identity differs from rank 0's: {} = {} on rank 0, {} here{}; every rank must read "
        "the same config and inputs (is a node's copy of an input another file?)",
        dir_, key, value(reference), value(identity_),
        differing.size() > 1 ? fmt::format(" (and {} more)", differing.size() - 1) : "");
  }
  auto resumed = load_newest(tensors, optimizer);
  const int64_t step = resumed ? resumed->state.step : -1;
  auto steps = torch::tensor({step, -step}, torch::kInt64).to(comm_.device());
  comm_.all_reduce(steps, ReduceOp::kMax);
  const auto highest = steps[0].cpu().item<int64_t>(), lowest = -steps[1].cpu().item<int64_t>();
  if (highest != lowest) {
    const auto what = [](int64_t s) { return s < 0 ? std::string("no saved state") : fmt::format("step {}", s); };
    fail(
        "{}: ranks disagree on resuming (this rank: {}, another: {}); every rank must see the same saved states: put "
        "run.dir on a filesystem all nodes share",
        dir_, what(step), what(step == highest ? lowest : highest));
  }
  return resumed;
}

std::optional<Checkpointer::Resumed> Checkpointer::load_newest(const std::map<std::string, torch::Tensor>& tensors,
                                                               torch::optim::Optimizer& optimizer) {
  const auto saved = step_dirs(dir_);
  if (saved.empty()) {
    if (fs::exists(fs::path(dir_) / "state.json"))
      spdlog::warn("{}: a training state in the layout of an earlier release; starting from scratch", dir_);
    return std::nullopt;
  }
  const auto& newest = saved.front();
  const std::string way_out = saved.size() > 1
                                  ? fmt::format("delete {} to resume from step {}", newest.path.string(), saved[1].step)
                                  : fmt::format("delete {} to start over", dir_);
  try {
    const auto state_file = newest.path / "state.json";
    const auto json = read_json(state_file);
    const auto recorded = saved_identity(json, identity_);
    const auto differing = recorded ? identity_differences(*recorded, identity_) : std::vector<std::string>{};
    if (!recorded || !differing.empty()) {
      spdlog::warn(
          "{}: saved training state is for other settings ({}); starting from scratch (it is replaced at "
          "the first checkpoint)",
          dir_, recorded ? describe_config_difference(differing, *recorded, identity_) : "none recorded");
      discard_saved_ = true;
      return std::nullopt;
    }
    Resumed out{training_state_from_json(json, state_file.string()), false, newest.path.string()};
    if (out.state.step != newest.step)
      fail("{}: holds step {}, its directory says {}", state_file.string(), out.state.step, newest.step);

    const SafetensorsCheckpoint weights((newest.path / "parameters.safetensors").string());
    std::vector<TensorSpec> expected;
    for (const auto& [name, tensor] : tensors) expected.push_back({name, tensor.sizes().vec()});
    validate_checkpoint(weights, expected);
    {
      torch::NoGradGuard no_grad;
      for (const auto& [name, tensor] : tensors) {
        auto copy = tensor;
        copy.copy_(weights.load(name, tensor.scalar_type()));
      }
    }
    const auto optimizer_file = (newest.path / "optimizer.safetensors").string();
    load_optimizer_state(optimizer, tensors, load_safetensors(optimizer_file), optimizer_file);

    const auto generators_file = (newest.path / "generators.safetensors").string();
    const auto generators = load_safetensors(generators_file);
    const auto it = generators.find("generators");
    if (it == generators.end() || it->second.dim() != 2)
      fail("{}: no [ranks, bytes] tensor 'generators'", generators_file);
    if (it->second.size(0) == comm_.size()) {
      out.generators_restored = restore_generator_state(it->second[comm_.rank()].contiguous(), device_);
    }
    if (!out.generators_restored) {
      spdlog::warn(
          "{}: saved on {} ranks (or another device), resumed on {} on {}: dropout draws from here on differ from an "
          "uninterrupted run",
          newest.path.string(), it->second.size(0), comm_.size(), device_.str());
    }
    return out;
  } catch (const Error& e) {
    fail("{}; {}", e.what(), way_out);
  }
}

}  // namespace llamarec
