#include "pipelines/run_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "pipelines/metrics_file.h"
#include "pipelines/results_table.h"
#include "pipelines/stages.h"

namespace fs = std::filesystem;

namespace llamarec {
namespace {

const std::vector<std::string> kValColumns = {"Recall@10", "NDCG@10", "MRR@10"};

std::string csv_number(const nlohmann::json& j) {
  return j.is_number() ? fmt::format("{:.6g}", j.get<double>()) : std::string("NaN");
}

struct StageScalars {
  std::string train_csv = "step,loss,lr,grad_norm,seconds\n";
  std::string val_csv = "step,train_loss,Recall@10,NDCG@10,MRR@10\n";
  int64_t train_rows = 0, val_rows = 0;
};

// Per stage, in the file's order (each run's lines are already the current ones, ScalarLog).
std::map<std::string, StageScalars> read_scalars(const std::string& path) {
  std::map<std::string, StageScalars> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("stage") || !j["stage"].is_string()) continue;
    auto& s = out[j["stage"].get<std::string>()];
    const auto step = csv_number(j.value("step", nlohmann::json()));
    if (j.contains("val") && j["val"].is_object()) {
      s.val_csv += step + "," + csv_number(j.value("train_loss", nlohmann::json()));
      for (const auto& c : kValColumns) s.val_csv += "," + csv_number(j["val"].value(c, nlohmann::json()));
      s.val_csv += "\n";
      ++s.val_rows;
    } else {
      s.train_csv +=
          fmt::format("{},{},{},{},{}\n", step, csv_number(j.value("loss", nlohmann::json())),
                      csv_number(j.value("lr", nlohmann::json())), csv_number(j.value("grad_norm", nlohmann::json())),
                      csv_number(j.value("seconds", nlohmann::json())));
      ++s.train_rows;
    }
  }
  return out;
}

std::string markdown_row(const std::string& label, const nlohmann::json& m) {
  std::string row = "| " + label + " |";
  for (const auto& c : {"Recall@5", "Recall@10", "NDCG@5", "NDCG@10", "MRR@10"})
    row += m.contains(c) && m[c].is_number() ? fmt::format(" {:.4f} |", m[c].get<double>()) : std::string(" - |");
  return row + "\n";
}

// One gnuplot program per plot whose data exists (name -> program), so that one that fails (a
// column with no number) does not stop the others. `png`, not `pngcairo`: gnuplot-nox has only it.
std::vector<std::pair<std::string, std::string>> gnuplot_scripts(const std::map<std::string, StageScalars>& scalars,
                                                                 bool has_results, bool has_timings) {
  const std::string preamble =
      "set datafile separator ','\nset datafile columnheaders\nset terminal png size 900,540 font ',11' noenhanced\n"
      "set grid\nset key outside right\n";
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [stage, s] : scalars) {
    if (s.train_rows > 0) {
      out.push_back({stage + "_loss",
                     preamble + fmt::format("set output '{0}_loss.png'\nset title '{0}: training loss per step'\n"
                                            "set xlabel 'step'\nset ylabel 'loss'\nset y2tics\n"
                                            "set y2label 'learning rate'\n"
                                            "plot '{0}_train.csv' using 1:2 with lines lw 1 title 'loss', "
                                            "'' using 1:3 axes x1y2 with lines dt 2 title 'lr'\n",
                                            stage)});
    }
    if (s.val_rows > 0) {
      out.push_back({stage + "_validation",
                     preamble + fmt::format("set output '{0}_validation.png'\nset title '{0}: validation'\n"
                                            "set xlabel 'step'\nset ylabel 'metric'\n"
                                            "plot for [c=3:5] '{0}_val.csv' using 1:c with linespoints title "
                                            "columnheader(c)\n",
                                            stage)});
    }
  }
  if (has_results) {
    out.push_back({"results", preamble + "set output 'results.png'\nset title 'test, valid retrieval subset'\n"
                                         "set style data histograms\nset style histogram clustered gap 1\n"
                                         "set style fill solid 0.8 border -1\nset ylabel 'metric'\nset yrange [0:*]\n"
                                         "plot for [c=2:6] 'results.csv' using c:xtic(1) title columnheader(c)\n"});
  }
  if (has_timings) {
    out.push_back({"stage_times", preamble + "set output 'stage_times.png'\nset title 'wall time per stage'\n"
                                             "set style data histograms\nset style fill solid 0.8 border -1\n"
                                             "set ylabel 'seconds'\nset key off\nset xtics rotate by -30\n"
                                             "plot 'stage_times.csv' using 2:xtic(1)\n"});
  }
  return out;
}

}  // namespace

std::string write_run_report(const ReportPaths& paths) {
  if (!fs::exists(paths.metrics)) fail("{}: no metrics file (has any stage run in this directory?)", paths.metrics);
  const auto metrics = read_metrics_file(paths.metrics);
  const auto scalars = read_scalars(paths.scalars);
  fs::create_directories(paths.out_dir);
  const auto out = [&](const std::string& name) { return (fs::path(paths.out_dir) / name).string(); };

  std::string md = "# LlamaRec++ run report\n\n";
  md += fmt::format("Made by `llamarec report` from `{}` and `{}`.\n\n", paths.metrics, paths.scalars);

  // Results: markdown table + CSV for the bar chart.
  bool has_results = false;
  const auto& ranker = metrics.contains("ranker") ? metrics["ranker"] : nlohmann::json::object();
  const auto& retriever = metrics.contains("retriever") ? metrics["retriever"] : nlohmann::json::object();
  if (retriever.contains("test") || ranker.contains("subset")) {
    md +=
        "## Results (test split)\n\n| | Recall@5 | Recall@10 | NDCG@5 | NDCG@10 | MRR@10 "
        "|\n|---|---|---|---|---|---|\n";
    if (retriever.contains("test")) md += markdown_row("retriever, all users", retriever["test"]);
    if (ranker.contains("subset")) {
      md += markdown_row("retriever order, valid subset", ranker.value("retriever_subset", nlohmann::json::object()));
      md += markdown_row("LlamaRec ranker, valid subset", ranker["subset"]);
      if (ranker.contains("controls") && ranker["controls"].is_object()) {
        for (const auto& [name, control] : ranker["controls"].items()) {
          if (control.is_object() && control.contains("subset"))
            md += markdown_row("control: " + name + ", valid subset", control["subset"]);
        }
      }
      md += markdown_row("random order, valid subset (expected)",
                         ranker.value("random_subset", nlohmann::json::object()));
      md += markdown_row("retriever, overall", ranker.value("retriever_overall", nlohmann::json::object()));
      md += markdown_row("LlamaRec ranker, overall", ranker.value("overall", nlohmann::json::object()));
      md += fmt::format("\nValid retrieval subset: {} of {} test users. Ranker base: `{}`.\n\n",
                        ranker.value("subset_users", 0), ranker.value("users", 0), ranker.value("base_model", "?"));
      std::string csv = "row,Recall@5,Recall@10,NDCG@5,NDCG@10,MRR@10\n";
      for (const auto& [label, key] :
           std::vector<std::pair<std::string, std::string>>{{"retriever order", "retriever_subset"},
                                                            {"LlamaRec ranker", "subset"},
                                                            {"random order", "random_subset"}}) {
        const auto m = ranker.value(key, nlohmann::json::object());
        csv += "\"" + label + "\"";
        for (const auto& c : {"Recall@5", "Recall@10", "NDCG@5", "NDCG@10", "MRR@10"})
          csv += "," + csv_number(m.value(c, nlohmann::json()));
        csv += "\n";
      }
      write_file_atomic(out("results.csv"), csv);
      has_results = true;
      md += "![results](results.png)\n\n";
    }
  }

  bool has_timings = false;
  if (metrics.contains("timings") && metrics["timings"].is_object() && !metrics["timings"].empty()) {
    std::string csv = "stage,seconds\n";
    md += "## Stage wall times\n\n| stage | seconds |\n|---|---|\n";
    for (const auto& stage : pipeline_stages()) {
      const auto& t = metrics["timings"];
      if (!t.contains(stage.name) || !t[stage.name].is_number()) continue;
      csv += fmt::format("{},{:.3f}\n", stage.name, t[stage.name].get<double>());
      md += fmt::format("| {} | {:.1f} |\n", stage.name, t[stage.name].get<double>());
    }
    write_file_atomic(out("stage_times.csv"), csv);
    has_timings = true;
    md += "\n![stage times](stage_times.png)\n\n";
  }

  for (const auto& [stage, s] : scalars) {
    md += fmt::format("## {} training\n\n", stage);
    if (s.train_rows > 0) {
      write_file_atomic(out(stage + "_train.csv"), s.train_csv);
      md += fmt::format("{} steps logged. ![{} loss]({}_loss.png)\n\n", s.train_rows, stage, stage);
    }
    if (s.val_rows > 0) {
      write_file_atomic(out(stage + "_val.csv"), s.val_csv);
      md += fmt::format("{} validations. ![{} validation]({}_validation.png)\n\n", s.val_rows, stage, stage);
    }
  }
  md += "## The console table\n\n```\n" + format_results_table(metrics) + "```\n";

  // plots.gp redraws them all (`gnuplot plots.gp` in the folder); each <plot>.gp one.
  const auto scripts = gnuplot_scripts(scalars, has_results, has_timings);
  std::string all = "# Generated by llamarec report: `gnuplot plots.gp` in this folder redraws every plot.\n";
  for (const auto& [name, program] : scripts) {
    write_file_atomic(out(name + ".gp"), program);
    all += "load '" + name + ".gp'\n";
  }
  write_file_atomic(out("plots.gp"), all);
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    spdlog::warn("report: gnuplot not found (apt-get install gnuplot-nox): wrote the CSVs and plots.gp, no PNGs");
  } else {
    std::vector<std::string> failed;
    fs::remove(out("gnuplot.log"));
    for (const auto& [name, program] : scripts) {
      const auto command = fmt::format("cd '{}' && gnuplot '{}.gp' >>gnuplot.log 2>&1", paths.out_dir, name);
      if (std::system(command.c_str()) != 0) {
        failed.push_back(name);
        fs::remove(out(name + ".png"));
      }
    }
    if (!failed.empty())
      spdlog::warn("report: gnuplot failed on {} (see {})", fmt::join(failed, ", "), out("gnuplot.log"));
  }
  write_file_atomic(out("report.md"), md);
  return out("report.md");
}

}  // namespace llamarec
