#include "tests/distributed/reference_collectives.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/test_support.h"

namespace llamarec::testing {

torch::Tensor rank_input(int r, std::vector<int64_t> shape, torch::ScalarType dtype) {
  auto generator = at::detail::createCPUGenerator(1000 + r);
  if (dtype == torch::kInt64 || dtype == torch::kInt32) {
    return torch::randint(-1000000, 1000000, shape, generator, torch::dtype(dtype));
  }
  if (!c10::isFloatingType(dtype)) return torch::randint(0, 2, shape, generator, torch::dtype(torch::kInt64)).to(dtype);
  return (torch::randn(shape, generator, torch::dtype(torch::kFloat64)) * 100).to(dtype);
}

std::vector<torch::Tensor> all_inputs(std::vector<int64_t> shape, torch::ScalarType dtype) {
  std::vector<torch::Tensor> inputs;
  for (int r = 0; r < world_size(); ++r) inputs.push_back(rank_input(r, shape, dtype));
  return inputs;
}

torch::Tensor reduce_locally(const std::vector<torch::Tensor>& inputs, ReduceOp op) {
  const auto dtype = inputs[0].scalar_type();
  const bool widen = dtype == torch::kBFloat16 || dtype == torch::kFloat16;
  auto wide = [&](const torch::Tensor& t) { return widen ? t.to(torch::kFloat32) : t; };
  torch::Tensor acc = wide(inputs[0]).clone();
  for (size_t r = 1; r < inputs.size(); ++r) {
    acc = op == ReduceOp::kMax ? torch::maximum(acc, wide(inputs[r])) : acc + wide(inputs[r]);
  }
  if (op == ReduceOp::kAvg) acc = acc / static_cast<int64_t>(inputs.size());
  return acc.to(dtype);
}

void expect_reduced(const torch::Tensor& actual_any, const torch::Tensor& expected, const std::string& what) {
  const torch::Tensor actual = actual_any.cpu();
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type()) << what;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  if (world_size() <= 2 || !actual.is_floating_point()) {
    EXPECT_TRUE(torch::equal(actual, expected)) << what << "\nactual\n" << actual << "\nexpected\n" << expected;
  } else {
    EXPECT_TRUE(torch::allclose(actual.to(torch::kFloat64), expected.to(torch::kFloat64), 1e-2, 1e-3)) << what;
  }
}

}  // namespace llamarec::testing
