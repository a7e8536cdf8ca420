#include "pipelines/results_table.h"

#include <fmt/format.h>

#include <vector>

#include "core/progress.h"
#include "pipelines/stages.h"

namespace llamarec {
namespace {

const std::vector<std::string> kColumns = {"Recall@5", "Recall@10", "NDCG@5", "NDCG@10", "MRR@10"};

std::string row(const std::string& label, const nlohmann::json& values) {
  std::string out = fmt::format("  {:<44}", label);
  for (const auto& c : kColumns) {
    out += values.contains(c) && values[c].is_number() ? fmt::format(" {:>9.4f}", values[c].get<double>())
                                                       : fmt::format(" {:>9}", "-");
  }
  return out + "\n";
}

double number(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}

}  // namespace

std::string format_results_table(const nlohmann::json& metrics) {
  std::string out;
  const auto& retriever = metrics.contains("retriever") ? metrics["retriever"] : nlohmann::json::object();
  const auto& ranker = metrics.contains("ranker") ? metrics["ranker"] : nlohmann::json::object();
  if (retriever.contains("test") || ranker.contains("subset")) {
    std::string header = fmt::format("  {:<44}", "test split");
    for (const auto& c : kColumns) header += fmt::format(" {:>9}", c);
    out += header + "\n";
    if (retriever.contains("test"))
      out += row(fmt::format("retriever (LRURec), all {} users", retriever.value("users", 0)), retriever["test"]);
    if (ranker.contains("subset")) {
      const double users = number(ranker, "users"), subset = number(ranker, "subset_users");
      out += fmt::format("  valid retrieval subset: {} of {} users ({:.1f} %) have their answer in the candidates\n",
                         subset, users, users > 0 ? 100.0 * subset / users : 0.0);
      out += row("  retriever order", ranker.value("retriever_subset", nlohmann::json::object()));
      const auto method = ranker.contains("method") && ranker["method"].is_object()
                              ? ranker["method"].value("name", std::string("retriever order"))
                              : std::string("retriever order");
      out += row("  LlamaRec ranker (" + method + ")", ranker["subset"]);
      // The controls: what the ranker scores apart from the order it was shown the candidates in.
      if (ranker.contains("controls") && ranker["controls"].is_object()) {
        for (const auto& [name, control] : ranker["controls"].items()) {
          if (control.is_object() && control.contains("subset")) out += row("    control: " + name, control["subset"]);
        }
      }
      out += row("  random order (expected)", ranker.value("random_subset", nlohmann::json::object()));
      out += "  overall (subset metrics x subset share)\n";
      out += row("  retriever", ranker.value("retriever_overall", nlohmann::json::object()));
      out += row("  LlamaRec ranker", ranker.value("overall", nlohmann::json::object()));
      out +=
          row("  random order of the candidates (expected)", ranker.value("random_overall", nlohmann::json::object()));
      out += fmt::format("  ranker base: {}\n", ranker.value("base_model", std::string("?")));
    }
  }
  if (metrics.contains("timings") && metrics["timings"].is_object() && !metrics["timings"].empty()) {
    std::string times = "  stage wall time:";
    double total = 0;
    const auto& timings = metrics["timings"];
    for (const auto& stage : pipeline_stages()) {
      if (!timings.contains(stage.name) || !timings[stage.name].is_number()) continue;
      const double seconds = timings[stage.name].get<double>();
      times += fmt::format(" {} {} |", stage.name, format_duration(seconds));
      total += seconds;
    }
    out += times + fmt::format(" total {}\n", format_duration(total));
  }
  return out.empty() ? "  no results yet (no stage has written metrics)\n" : out;
}

}  // namespace llamarec
