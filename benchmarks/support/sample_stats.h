// Summaries of repeated timings, one convention for every benchmark: quantiles interpolate linearly
// between the sorted samples (so the median of an even count is the mean of the middle two).
#pragma once
#include <vector>

namespace llamarec {

// q in [0, 1]; 0 for no samples.
double quantile(std::vector<double> samples, double q);
double median(std::vector<double> samples);
double mean(const std::vector<double>& samples);

}  // namespace llamarec
