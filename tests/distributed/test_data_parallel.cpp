// DataParallel: the weighted all-reduce (at np=1 and np=2), gradients that live in the bucket, and
// the clip on the bucket against LibTorch's clip_grad_norm_, bit for bit.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <limits>
#include <vector>

#include "core/error.h"
#include "distributed/data_parallel.h"
#include "distributed/mpi_communicator.h"

namespace llamarec {
namespace {

TEST(DataParallelMpi, WeightedAllReduceIsTheGlobalMeanGradient) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const int r = world.rank(), n = world.size();
  auto p = torch::zeros({3}, torch::requires_grad());
  // Rank r holds (r+1) "tokens", each contributing gradient (r+1) on every element.
  p.mutable_grad() = torch::full({3}, static_cast<float>((r + 1) * (r + 1)));
  DataParallel dp(world, {p});
  // Only the last rank raises its flag (a stop signal): every rank sees one.
  const auto totals = dp.all_reduce_gradients(r + 1, 10.0 * (r + 1), r == n - 1 ? 1.0 : 0.0);
  EXPECT_DOUBLE_EQ(totals.flags, 1.0);
  double weight = 0, grad = 0, value = 0;
  for (int q = 0; q < n; ++q) {
    weight += q + 1;
    grad += (q + 1) * (q + 1);
    value += 10.0 * (q + 1);
  }
  EXPECT_DOUBLE_EQ(totals.weight, weight);
  EXPECT_DOUBLE_EQ(totals.value, value);
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({3}, static_cast<float>(grad / weight))));
}

// A parameter that gets no gradient on some rank (or whose gradient was reset to undefined, as
// LibTorch 2's zero_grad does) contributes zeros and still ends with the average.
TEST(DataParallelMpi, MissingGradientsCountAsZeros) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const int r = world.rank(), n = world.size();
  auto a = torch::zeros({2, 2}, torch::requires_grad());
  auto b = torch::zeros({3}, torch::requires_grad());
  DataParallel dp(world, {a, b});
  a.mutable_grad() = torch::Tensor();
  b.mutable_grad() = torch::Tensor();
  if (r == 0) (a.sum() * 2 + b.sum()).backward();
  dp.all_reduce_gradients();
  EXPECT_TRUE(torch::equal(a.grad(), torch::full({2, 2}, 2.0f / n)));
  EXPECT_TRUE(torch::equal(b.grad(), torch::full({3}, 1.0f / n)));
}

std::vector<torch::Tensor> random_parameters(uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({4, 3}, torch::requires_grad()), torch::randn({5}, torch::requires_grad()),
          torch::randn({2, 2, 2}, torch::requires_grad())};
}

void set_random_gradients(std::vector<torch::Tensor>& params, uint64_t seed, double scale) {
  torch::manual_seed(seed);
  for (auto& p : params) p.mutable_grad() = torch::randn(p.sizes()) * scale;
}

TEST(DataParallel, GradientsAreTheBucketAndBackwardAccumulatesThere) {
  MpiCommunicator self(MPI_COMM_SELF);
  auto params = random_parameters(1);
  DataParallel dp(self, params);
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.1));
  for (int step = 0; step < 2; ++step) {
    // LibTorch's zero_grad detaches and zeros each gradient in place (2.x: when asked not to reset it
    // to undefined, as the trainer asks).
#if TORCH_VERSION_MAJOR >= 2
    sgd.zero_grad(/*set_to_none=*/false);
#else
    sgd.zero_grad();
#endif
    const auto before = params[1].grad().data_ptr();
    (params[0].sum() + 3 * params[1].sum() + params[2].pow(2).sum()).backward();
    EXPECT_EQ(params[1].grad().data_ptr(), before) << "backward replaced the gradient instead of adding to it";
    EXPECT_TRUE(torch::equal(params[1].grad(), torch::full({5}, 3.0f)));
    EXPECT_TRUE(torch::allclose(params[2].grad(), 2 * params[2].detach()));
    dp.all_reduce_gradients(2.0);
    EXPECT_TRUE(torch::equal(params[1].grad(), torch::full({5}, 1.5f)));
    EXPECT_TRUE(torch::equal(params[0].grad(), torch::full({4, 3}, 0.5f)));
    sgd.step();
  }
}

// Making every rank start from rank 0's parameters leaves the gradients as they were.
TEST(DataParallelMpi, BroadcastKeepsTheGradients) {
  MpiCommunicator world(MPI_COMM_WORLD);
  auto p = torch::full({4}, static_cast<float>(world.rank() + 1), torch::requires_grad());
  p.mutable_grad() = torch::full({4}, 7.0f);
  DataParallel dp(world, {p});
  dp.broadcast_parameters();
  EXPECT_TRUE(torch::equal(p.detach(), torch::full({4}, 1.0f)));
  EXPECT_TRUE(torch::equal(p.grad(), torch::full({4}, 7.0f)));
}

TEST(DataParallel, RejectsAParameterListedTwice) {
  MpiCommunicator self(MPI_COMM_SELF);
  auto p = torch::zeros({2}, torch::requires_grad());
  EXPECT_THROW(DataParallel(self, {p, p}), Error);
}

// The same gradients clipped by LibTorch and by the bucket: the same norm and the same bits, with
// the clip active, inactive, and only measuring (max_norm = infinity).
TEST(DataParallel, ClipIsLibTorchsBitForBit) {
  MpiCommunicator self(MPI_COMM_SELF);
  for (const double max_norm : {0.5, 1e6, std::numeric_limits<double>::infinity()}) {
    auto ours = random_parameters(2);
    auto reference = random_parameters(2);
    DataParallel dp(self, ours);
    set_random_gradients(ours, 3, 0.7);
    set_random_gradients(reference, 3, 0.7);
    const double expected = torch::nn::utils::clip_grad_norm_(reference, max_norm);
    const double norm = dp.clip_grad_norm(max_norm);
    EXPECT_EQ(norm, expected) << "max_norm " << max_norm;
    EXPECT_GT(norm, 0.5);
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_TRUE(torch::equal(ours[i].grad(), reference[i].grad())) << "max_norm " << max_norm << ", parameter " << i;
    }
    if (max_norm == 0.5) {
      double clipped = 0;
      for (const auto& p : ours) clipped += p.grad().pow(2).sum().item<double>();
      EXPECT_NEAR(std::sqrt(clipped), 0.5, 1e-5);
    }
  }
}

}  // namespace
}  // namespace llamarec
