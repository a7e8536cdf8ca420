// Single-process references for the collective tests: every rank builds every rank's input (seeded
// by that rank), so each can compute the expected result of a collective on its own.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "distributed/communicator.h"

namespace llamarec::testing {

// Rank r's input, on the CPU: identical on every rank that builds it.
torch::Tensor rank_input(int r, std::vector<int64_t> shape, torch::ScalarType dtype);
// rank_input(r, ...) for r = 0..world_size-1.
std::vector<torch::Tensor> all_inputs(std::vector<int64_t> shape, torch::ScalarType dtype);
// What one process computes: fp32 accumulation for 16-bit floats, rounded once at the end;
// avg = sum / count.
torch::Tensor reduce_locally(const std::vector<torch::Tensor>& inputs, ReduceOp op);
// Bit-exact up to 2 ranks (x0 + x1 rounds once whatever the order); larger worlds may sum in
// another order, so floats are compared with a tolerance there. `actual` may live on any device.
void expect_reduced(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what);

}  // namespace llamarec::testing
