// `llamarec report RUN_DIR` (also at the end of `llamarec run`): <run>/report/report.md with PNG
// plots drawn by gnuplot (training loss and validation curves of both trainers, the results, stage
// times) and the plotted data as CSV beside them, from metrics.json and metrics.jsonl. Without
// gnuplot the CSVs, the gnuplot script and report.md are still written, and the warning says so.
#pragma once
#include <string>

namespace llamarec {

struct ReportPaths {
  std::string metrics;  // metrics.json
  std::string scalars;  // metrics.jsonl
  std::string out_dir;  // report/
};

// Writes the report; returns the path of report.md. Fails naming the file when metrics.json is
// missing or unreadable.
std::string write_run_report(const ReportPaths& paths);

}  // namespace llamarec
