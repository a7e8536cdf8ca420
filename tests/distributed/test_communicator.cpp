// The MPI Communicator against single-process reductions (reference_collectives.h); the suite runs
// at np=1 and np=2, the mismatch tests only at np=2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "core/error.h"
#include "distributed/communicator.h"
#include "tests/distributed/reference_collectives.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using testing::all_inputs;
using testing::error_of;
using testing::expect_reduced;
using ::testing::HasSubstr;
using testing::rank_input;
using testing::reduce_locally;
using testing::world_rank;
using testing::world_size;

const std::vector<torch::ScalarType> kReducedTypes = {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kInt64,
                                                      torch::kInt32};
const std::vector<ReduceOp> kOps = {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax};

std::string what(torch::ScalarType dtype, ReduceOp op) {
  return std::string(c10::toString(dtype)) + " " + reduce_op_name(op);
}

class CommunicatorMpi : public ::testing::Test {
 protected:
  std::unique_ptr<Communicator> comm = make_communicator("mpi");
};

TEST_F(CommunicatorMpi, WorldMatchesMpi) {
  EXPECT_STREQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->rank(), world_rank());
  EXPECT_EQ(comm->size(), world_size());
  EXPECT_TRUE(comm->device().is_cpu());
  // CTest's ranks share one node.
  EXPECT_EQ(comm->local_rank(), world_rank());
}

TEST_F(CommunicatorMpi, AllReduceEqualsSingleProcessReduction) {
  for (auto dtype : kReducedTypes) {
    for (auto op : kOps) {
      if (op == ReduceOp::kAvg && !c10::isFloatingType(dtype)) continue;
      const auto inputs = all_inputs({5, 7}, dtype);
      torch::Tensor t = inputs[comm->rank()].clone();
      comm->all_reduce(t, op);
      expect_reduced(t, reduce_locally(inputs, op), what(dtype, op));
    }
  }
}

TEST_F(CommunicatorMpi, AvgOfIntegersIsAnError) {
  torch::Tensor t = torch::ones({3}, torch::kInt64);
  EXPECT_THAT(error_of([&] { comm->all_reduce(t, ReduceOp::kAvg); }), HasSubstr("avg of integer tensor int64 [3]"));
  torch::Tensor shard;
  torch::Tensor full = torch::ones({2 * comm->size()}, torch::kInt32);
  EXPECT_THAT(error_of([&] { comm->reduce_scatter(full, shard, ReduceOp::kAvg); }), HasSubstr("avg of integer"));
}

TEST_F(CommunicatorMpi, AllGatherConcatenatesShardsInRankOrder) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kInt64, torch::kBool}) {
    const auto shards = all_inputs({3, 4}, dtype);
    const torch::Tensor expected = torch::cat(shards, 0);

    torch::Tensor allocated;  // undefined: allocated as [size*3, 4]
    comm->all_gather(shards[comm->rank()], allocated);
    expect_reduced(allocated, expected, std::string("allocated ") + c10::toString(dtype));

    // A preallocated, non-contiguous full tensor is filled through a copy.
    torch::Tensor strided = torch::zeros({4, 3 * comm->size()}, dtype).t();
    ASSERT_FALSE(strided.is_contiguous());
    comm->all_gather(shards[comm->rank()], strided);
    expect_reduced(strided, expected, std::string("strided ") + c10::toString(dtype));
  }
}

TEST_F(CommunicatorMpi, AllGatherIntoFlatBufferHoldingTheShard) {
  // FSDP's layout: this rank's shard is a view of the flat buffer it gathers into.
  const auto shards = all_inputs({6}, torch::kFloat32);
  torch::Tensor full = torch::zeros({6 * comm->size()});
  torch::Tensor own = full.narrow(0, 6 * comm->rank(), 6);
  own.copy_(shards[comm->rank()]);
  comm->all_gather(own, full);
  expect_reduced(full, torch::cat(shards), "flat buffer");
}

TEST_F(CommunicatorMpi, AsyncAllGathersInFlightTogetherEqualTheBlockingOne) {
  // Two gathers in flight, a blocking all-reduce between start and wait, waits in reverse order:
  // what FSDP's prefetch does (the progress thread's communicator is not the blocking one's).
  const auto first = all_inputs({5, 3}, torch::kFloat32);
  const auto second = all_inputs({7}, torch::kBFloat16);
  torch::Tensor full_first, full_second;
  auto pending_first = comm->all_gather_async(first[comm->rank()], full_first);
  auto pending_second = comm->all_gather_async(second[comm->rank()], full_second);
  EXPECT_EQ(full_first.sizes(), torch::IntArrayRef({5 * comm->size(), 3}));  // allocated at start
  torch::Tensor sum = torch::ones({4});
  comm->all_reduce(sum, ReduceOp::kSum);
  EXPECT_TRUE(torch::equal(sum, torch::full({4}, static_cast<float>(comm->size()))));
  pending_second.wait();
  pending_first.wait();
  EXPECT_FALSE(pending_first.pending());
  expect_reduced(full_first, torch::cat(first, 0), "first");
  expect_reduced(full_second, torch::cat(second, 0), "second");

  // A strided target is filled at wait(); an unwaited gather completes when its handle goes.
  torch::Tensor strided = torch::zeros({3, 5 * comm->size()}).t();
  { auto pending = comm->all_gather_async(first[comm->rank()], strided); }
  expect_reduced(strided, torch::cat(first, 0), "strided, waited by the destructor");
}

TEST_F(CommunicatorMpi, AsyncAllGatherChecksItsArgumentsWhenItStarts) {
  const bool bad = comm->rank() == comm->size() - 1;
  torch::Tensor full = torch::zeros({3 * comm->size() + (bad ? 1 : 0)});
  const std::string message = error_of([&] { auto pending = comm->all_gather_async(torch::ones({3}), full); });
  EXPECT_THAT(message, HasSubstr(fmt::format("all_gather: full is float32 [{}] on cpu", 3 * comm->size() + 1)));
  comm->barrier();
}

TEST_F(CommunicatorMpi, ZeroDimShardsGatherIntoAVector) {
  torch::Tensor full;
  comm->all_gather(torch::tensor(static_cast<int64_t>(10 * comm->rank())), full);
  EXPECT_TRUE(torch::equal(full, torch::arange(comm->size(), torch::kInt64) * 10)) << full;
}

TEST_F(CommunicatorMpi, ReduceScatterGivesThisRanksSliceOfTheReduction) {
  for (auto dtype : kReducedTypes) {
    for (auto op : kOps) {
      if (op == ReduceOp::kAvg && !c10::isFloatingType(dtype)) continue;
      const auto fulls = all_inputs({3 * comm->size(), 4}, dtype);
      const torch::Tensor expected = reduce_locally(fulls, op).narrow(0, 3 * comm->rank(), 3);
      torch::Tensor shard;  // undefined: allocated as [3, 4]
      comm->reduce_scatter(fulls[comm->rank()], shard, op);
      expect_reduced(shard, expected, what(dtype, op));
    }
  }
}

TEST_F(CommunicatorMpi, ReduceScatterOfAFlatBufferIntoItsOwnSlice) {
  const auto fulls = all_inputs({5 * comm->size()}, torch::kFloat64);
  torch::Tensor full = fulls[comm->rank()].clone();
  torch::Tensor own = full.narrow(0, 5 * comm->rank(), 5);
  comm->reduce_scatter(full, own, ReduceOp::kSum);
  expect_reduced(own, reduce_locally(fulls, ReduceOp::kSum).narrow(0, 5 * comm->rank(), 5), "aliased shard");
}

TEST_F(CommunicatorMpi, BroadcastFromEveryRoot) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kInt64, torch::kUInt8}) {
    for (int root = 0; root < comm->size(); ++root) {
      torch::Tensor t = rank_input(comm->rank(), {2, 3, 5}, dtype);
      comm->broadcast(t, root);
      expect_reduced(t, rank_input(root, {2, 3, 5}, dtype),
                     std::string(c10::toString(dtype)) + " root " + std::to_string(root));
    }
  }
}

TEST_F(CommunicatorMpi, NonContiguousTensorsAreReducedInPlace) {
  const auto bases = all_inputs({6, 8}, torch::kFloat32);
  // Every other column of the transpose: neither contiguous nor dense.
  auto view_of = [](const torch::Tensor& base) { return base.t().slice(1, 0, 6, 2); };
  torch::Tensor base = bases[comm->rank()].clone();
  torch::Tensor view = view_of(base);
  ASSERT_FALSE(view.is_contiguous());
  comm->all_reduce(view, ReduceOp::kSum);

  std::vector<torch::Tensor> views;
  for (const auto& b : bases) views.push_back(view_of(b).contiguous());
  torch::Tensor expected_base = bases[comm->rank()].clone();
  view_of(expected_base).copy_(reduce_locally(views, ReduceOp::kSum));
  // The view's elements hold the sum; the base's other elements are untouched.
  expect_reduced(base, expected_base, "strided all_reduce");

  torch::Tensor shard;
  torch::Tensor full_view = view_of(bases[comm->rank()]).repeat({1, comm->size()}).t();
  ASSERT_FALSE(full_view.is_contiguous());
  comm->reduce_scatter(full_view, shard, ReduceOp::kMax);
  std::vector<torch::Tensor> fulls;
  for (const auto& b : bases) fulls.push_back(view_of(b).repeat({1, comm->size()}).t().contiguous());
  const int64_t n = full_view.size(0) / comm->size();
  expect_reduced(shard, reduce_locally(fulls, ReduceOp::kMax).narrow(0, n * comm->rank(), n), "strided full");

  torch::Tensor b = bases[comm->rank()].clone();
  torch::Tensor column = b.select(1, 3);
  comm->broadcast(column, 0);
  torch::Tensor expected_b = bases[comm->rank()].clone();
  expected_b.select(1, 3).copy_(bases[0].select(1, 3));
  expect_reduced(b, expected_b, "strided broadcast");
}

TEST_F(CommunicatorMpi, EmptyTensorsAreFine) {
  torch::Tensor t = torch::empty({0, 4});
  comm->all_reduce(t, ReduceOp::kSum);
  torch::Tensor full;
  comm->all_gather(t, full);
  EXPECT_EQ(full.sizes(), (std::vector<int64_t>{0, 4}));
  comm->broadcast(t, 0);
  comm->barrier();
}

TEST_F(CommunicatorMpi, MismatchedShapesThrowOnEveryRank) {
  LLAMAREC_REQUIRE_WORLD(2);
  torch::Tensor t = comm->rank() == 0 ? torch::ones({4, 3}) : torch::ones({5});
  const std::string message = error_of([&] { comm->all_reduce(t, ReduceOp::kSum); });
  EXPECT_THAT(message, HasSubstr("mismatched collectives"));
  EXPECT_THAT(message, HasSubstr("input numel"));
  EXPECT_THAT(message, HasSubstr("rank 0: all_reduce(sum) of float32 [4, 3] on cpu"));
  EXPECT_THAT(message, HasSubstr("rank 1: all_reduce(sum) of float32 [5] on cpu"));

  // Same element count, other shape.
  torch::Tensor u = comm->rank() == 0 ? torch::ones({2, 6}) : torch::ones({3, 4});
  EXPECT_THAT(error_of([&] { comm->broadcast(u, 0); }), HasSubstr("differ in shape"));

  // The communicator is still usable afterwards.
  torch::Tensor ok = torch::ones({3});
  comm->all_reduce(ok, ReduceOp::kSum);
  EXPECT_TRUE(torch::equal(ok, torch::full({3}, static_cast<float>(comm->size()))));
}

TEST_F(CommunicatorMpi, MismatchedDtypesAndOpsThrowOnEveryRank) {
  LLAMAREC_REQUIRE_WORLD(2);
  torch::Tensor t = torch::ones({3}, comm->rank() == 0 ? torch::kFloat32 : torch::kFloat64);
  EXPECT_THAT(error_of([&] { comm->all_reduce(t, ReduceOp::kSum); }), HasSubstr("differ in dtype"));

  torch::Tensor v = torch::ones({3});
  EXPECT_THAT(error_of([&] { comm->all_reduce(v, comm->rank() == 0 ? ReduceOp::kSum : ReduceOp::kMax); }),
              HasSubstr("differ in reduce op"));
  EXPECT_THAT(error_of([&] { comm->broadcast(v, comm->rank()); }), HasSubstr("differ in root"));

  // Different collectives altogether.
  const std::string message = error_of([&] {
    if (comm->rank() == 0) {
      comm->all_reduce(v, ReduceOp::kSum);
    } else {
      comm->barrier();
    }
  });
  EXPECT_THAT(message, HasSubstr("differ in collective"));
  EXPECT_THAT(message, HasSubstr("rank 1: barrier"));
  comm->barrier();
}

TEST_F(CommunicatorMpi, LocalErrorOnOneRankThrowsOnEveryRank) {
  // The last rank passes a full tensor one element too long.
  const bool bad = comm->rank() == comm->size() - 1;
  torch::Tensor shard = torch::ones({3});
  torch::Tensor full = torch::zeros({3 * comm->size() + (bad ? 1 : 0)});
  const std::string message = error_of([&] { comm->all_gather(shard, full); });
  EXPECT_THAT(message, HasSubstr(fmt::format("all_gather: full is float32 [{}] on cpu", 3 * comm->size() + 1)));
  if (comm->size() > 1) {
    EXPECT_THAT(message, HasSubstr(fmt::format("on rank {}: all_gather", comm->size() - 1)));
  }
  EXPECT_THAT(message, HasSubstr("shard float32 [3] on cpu"));
  comm->barrier();
}

TEST_F(CommunicatorMpi, LocalErrorsNameTheOpAndTheTensor) {
  torch::Tensor meta = torch::empty({2, 3}, torch::device(torch::kMeta));
  EXPECT_THAT(error_of([&] { comm->all_reduce(meta, ReduceOp::kSum); }),
              HasSubstr("all_reduce: tensor is float32 [2, 3] on meta, but the mpi backend of this rank takes "
                        "tensors on cpu"));
  if (torch::cuda::is_available()) {
    torch::Tensor gpu = torch::ones({4}, torch::device(torch::kCUDA));
    EXPECT_THAT(error_of([&] { comm->broadcast(gpu, 0); }), HasSubstr("on cuda:0, but the mpi backend"));
  }
  torch::Tensor flags = torch::ones({4}, torch::kBool);
  EXPECT_THAT(error_of([&] { comm->all_reduce(flags, ReduceOp::kMax); }),
              HasSubstr("all_reduce: tensor is bool [4] on cpu: the mpi backend reduces only"));
  torch::Tensor t = torch::ones({4});
  EXPECT_THAT(error_of([&] { comm->broadcast(t, comm->size()); }), HasSubstr("broadcast: root"));
  torch::Tensor undefined;
  EXPECT_THAT(error_of([&] { comm->all_reduce(undefined, ReduceOp::kSum); }), HasSubstr("undefined tensor"));
  torch::Tensor shard = torch::ones({2}, torch::kFloat64);
  torch::Tensor wrong_dtype = torch::zeros({2 * comm->size()});
  EXPECT_THAT(error_of([&] { comm->all_gather(shard, wrong_dtype); }), HasSubstr("dtypes differ"));
  torch::Tensor odd = torch::ones({2 * comm->size() + 1});
  torch::Tensor out;
  if (comm->size() > 1) {
    EXPECT_THAT(error_of([&] { comm->reduce_scatter(odd, out, ReduceOp::kSum); }), HasSubstr("do not divide"));
  }
  torch::Tensor small_shard = torch::zeros({1});
  torch::Tensor full = torch::ones({4 * comm->size()});
  EXPECT_THAT(error_of([&] { comm->reduce_scatter(full, small_shard, ReduceOp::kSum); }),
              HasSubstr("reduce_scatter: shard is float32 [1] on cpu (1 elements), but full float32"));
}

TEST_F(CommunicatorMpi, UncheckedCollectivesGiveTheSameResults) {
  comm->set_checked(false);
  const auto inputs = all_inputs({17}, torch::kFloat32);
  torch::Tensor t = inputs[comm->rank()].clone();
  comm->all_reduce(t, ReduceOp::kAvg);
  expect_reduced(t, reduce_locally(inputs, ReduceOp::kAvg), "unchecked avg");
  torch::Tensor full;
  comm->all_gather(inputs[comm->rank()], full);
  expect_reduced(full, torch::cat(inputs), "unchecked all_gather");
  comm->barrier();
  // Local errors still throw (on this rank only, so every rank makes the same mistake here).
  torch::Tensor undefined;
  EXPECT_THAT(error_of([&] { comm->all_reduce(undefined, ReduceOp::kSum); }), HasSubstr("undefined tensor"));
}

TEST_F(CommunicatorMpi, CollectivesOnTensorsThatRequireGrad) {
  torch::Tensor weight = torch::ones({3}, torch::requires_grad());
  comm->all_reduce(weight, ReduceOp::kSum);
  EXPECT_TRUE(torch::equal(weight.detach(), torch::full({3}, static_cast<float>(comm->size()))));
}

TEST_F(CommunicatorMpi, FactoryChoosesAndRejectsBackends) {
  EXPECT_STREQ(make_communicator("auto", torch::kCPU)->backend(), "mpi");
  EXPECT_THAT(error_of([] { make_communicator("gloo"); }), HasSubstr("unknown backend \"gloo\""));
  EXPECT_THAT(error_of([] { make_communicator("mpi", torch::Device(torch::kCUDA, 0)); }),
              HasSubstr("the mpi backend takes cpu tensors"));
#if !defined(LLAMAREC_WITH_NCCL)
  EXPECT_THAT(error_of([] { make_communicator("nccl"); }), HasSubstr("this build has no NCCL"));
#elif !defined(LLAMAREC_TORCH_CUDA)
  EXPECT_THAT(error_of([] { make_communicator("nccl"); }), HasSubstr("this build has no CUDA LibTorch"));
  EXPECT_THAT(error_of([] { make_communicator("auto", torch::Device(torch::kCUDA, 0)); }),
              HasSubstr("this build has no CUDA LibTorch"));
#endif
}

}  // namespace
}  // namespace llamarec
