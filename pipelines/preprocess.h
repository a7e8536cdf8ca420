// The preprocess stage: raw files (or the synthetic generator) -> filters -> dataset.h5.
#pragma once
#include <string>
#include <vector>

#include "pipelines/config.h"
#include "pipelines/importers/raw_dataset.h"
#include "pipelines/importers/synthetic.h"
#include "pipelines/preprocess_filter.h"

namespace llamarec {

struct PreprocessOptions {
  std::string format = "synthetic";  // one of preprocess_formats()
  std::string input;                 // see DataConfig::input
  std::string meta;                  // Amazon metadata / RecBole .item file
  TextEncoding encoding = TextEncoding::kAuto;
  std::string output = "dataset.h5";
  FilterOptions filter;
  SyntheticOptions synthetic;
};

struct PreprocessSummary {
  std::string source_format;  // the detected flavour, e.g. "movielens-csv"
  FilterReport report;
  double import_seconds = 0;
  double filter_seconds = 0;
  double write_seconds = 0;
};

// "movielens", "amazon", "recbole", "synthetic".
const std::vector<std::string>& preprocess_formats();

// From [data] (input/meta as given, the dataset path inside run.dir) and run.seed.
PreprocessOptions preprocess_options(const Config& config);

// Reads the raw data of `options.format`; unknown formats are an error listing the valid ones.
RawDataset import_raw_dataset(const PreprocessOptions& options);

// Whether options.output already holds a complete dataset made from the same input, metadata,
// filters (and synthetic options): the stage can then be skipped. Never throws.
bool preprocess_output_current(const PreprocessOptions& options);

// Imports, filters and writes options.output atomically (nothing is left behind on error).
PreprocessSummary run_preprocess(const PreprocessOptions& options);

}  // namespace llamarec
