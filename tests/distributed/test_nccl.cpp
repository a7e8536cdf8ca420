// The NCCL backend. NcclOps needs only the NCCL library (no GPU); NcclCommunicator needs a CUDA
// LibTorch and a GPU, and checks every collective against the single-process reference at whatever
// world size it runs (1 on a one-GPU machine: NCCL cannot put two ranks on one device).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "distributed/communicator.h"
#include "tests/distributed/reference_collectives.h"
#include "tests/test_support.h"
#ifdef LLAMAREC_WITH_NCCL
#include "distributed/cuda/nccl_ops.h"
#endif
#ifdef LLAMAREC_TORCH_CUDA
#include <ATen/cuda/Sleep.h>
#endif

namespace llamarec {
namespace {

using testing::all_inputs;
using testing::error_of;
using testing::expect_reduced;
using ::testing::HasSubstr;
using testing::rank_input;
using testing::reduce_locally;

#ifdef LLAMAREC_WITH_NCCL
TEST(NcclOps, GetUniqueIdRunsWithoutGpu) {
  const nccl::UniqueId first = nccl::get_unique_id();
  const nccl::UniqueId second = nccl::get_unique_id();
  // Ids carry a random magic and the bootstrap address: two are never equal, neither is all zero.
  EXPECT_NE(first, second);
  EXPECT_NE(first, nccl::UniqueId{});
  EXPECT_GE(nccl::version(), 21000);
  EXPECT_TRUE(nccl::has_avg());
}
#endif

class NcclCommunicator : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef LLAMAREC_TORCH_CUDA
    GTEST_SKIP() << "this build has no CUDA LibTorch";
#endif
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    comm = make_communicator("auto", torch::Device(torch::kCUDA));
  }
  torch::Tensor on_gpu(const torch::Tensor& t) const { return t.to(comm->device()); }

  std::unique_ptr<Communicator> comm;
};

TEST_F(NcclCommunicator, BootstrapsOnThisRanksDevice) {
  EXPECT_STREQ(comm->backend(), "nccl");
  EXPECT_EQ(comm->rank(), testing::world_rank());
  EXPECT_EQ(comm->size(), testing::world_size());
  EXPECT_EQ(comm->device().index(), comm->local_rank() % static_cast<int>(torch::cuda::device_count()));
}

TEST_F(NcclCommunicator, AllReduceEqualsSingleProcessReduction) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kInt64, torch::kInt32}) {
    for (auto op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax}) {
      if (op == ReduceOp::kAvg && !c10::isFloatingType(dtype)) continue;
      const auto inputs = all_inputs({33, 17}, dtype);
      torch::Tensor t = on_gpu(inputs[comm->rank()]);
      comm->all_reduce(t, op);
      expect_reduced(t, reduce_locally(inputs, op), std::string(c10::toString(dtype)) + " " + reduce_op_name(op));
    }
  }
}

TEST_F(NcclCommunicator, AllGatherReduceScatterBroadcast) {
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kInt64, torch::kBool}) {
    const auto shards = all_inputs({5, 3}, dtype);
    torch::Tensor full;
    comm->all_gather(on_gpu(shards[comm->rank()]), full);
    expect_reduced(full, torch::cat(shards), std::string("all_gather ") + c10::toString(dtype));

    for (int root = 0; root < comm->size(); ++root) {
      torch::Tensor t = on_gpu(rank_input(comm->rank(), {4, 4}, dtype));
      comm->broadcast(t, root);
      expect_reduced(t, rank_input(root, {4, 4}, dtype), std::string("broadcast ") + c10::toString(dtype));
    }
  }
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kInt64}) {
    const auto fulls = all_inputs({2 * comm->size(), 7}, dtype);
    torch::Tensor shard;
    comm->reduce_scatter(on_gpu(fulls[comm->rank()]), shard, ReduceOp::kSum);
    expect_reduced(shard, reduce_locally(fulls, ReduceOp::kSum).narrow(0, 2 * comm->rank(), 2),
                   std::string("reduce_scatter ") + c10::toString(dtype));
  }
}

TEST_F(NcclCommunicator, NonContiguousAndAliasedTensors) {
  const auto bases = all_inputs({6, 8}, torch::kFloat32);
  torch::Tensor base = on_gpu(bases[comm->rank()]);
  torch::Tensor view = base.t().slice(1, 0, 6, 2);
  comm->all_reduce(view, ReduceOp::kMax);
  std::vector<torch::Tensor> views;
  for (const auto& b : bases) views.push_back(b.t().slice(1, 0, 6, 2).contiguous());
  torch::Tensor expected = bases[comm->rank()].clone();
  expected.t().slice(1, 0, 6, 2).copy_(reduce_locally(views, ReduceOp::kMax));
  expect_reduced(base, expected, "strided all_reduce");

  const auto shards = all_inputs({6}, torch::kFloat32);
  torch::Tensor flat = on_gpu(torch::zeros({6 * comm->size()}));
  torch::Tensor own = flat.narrow(0, 6 * comm->rank(), 6);
  own.copy_(on_gpu(shards[comm->rank()]));
  comm->all_gather(own, flat);
  expect_reduced(flat, torch::cat(shards), "flat buffer all_gather");
  comm->barrier();
}

TEST_F(NcclCommunicator, CpuTensorsAreALocalError) {
  torch::Tensor cpu = torch::ones({3});
  EXPECT_THAT(error_of([&] { comm->all_reduce(cpu, ReduceOp::kSum); }),
              HasSubstr("all_reduce: tensor is float32 [3] on cpu, but the nccl backend of this rank takes tensors "
                        "on cuda:"));
}

#ifdef LLAMAREC_TORCH_CUDA
// A collective stuck behind a kernel that outlasts distributed.timeout_s (as behind a dead peer) ends
// the process with the watchdog's message instead of hanging. The child is a fresh exec of this
// binary ("threadsafe" style): CUDA does not survive fork.
TEST(NcclWatchdog, ACollectivePastTheTimeoutEndsTheProcessNamingIt) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (testing::world_size() != 1) GTEST_SKIP() << "the child process runs alone";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto comm = make_communicator("nccl", torch::Device(torch::kCUDA), std::chrono::seconds(1));
        at::cuda::sleep(int64_t{20'000'000'000});  // ~10 s of spinning on the current stream
        torch::Tensor t = torch::ones({4}, torch::Device(torch::kCUDA));
        comm->all_reduce(t, ReduceOp::kSum);
        torch::cuda::synchronize();
        std::exit(0);
      },
      ::testing::ExitedWithCode(1), "nccl watchdog: all_reduce #[0-9]+ did not complete within 1 s");
}
#endif

}  // namespace
}  // namespace llamarec
