// balanced_prompt_share: prompts of every length and count come back whole, each on exactly one
// rank, in global-batch order, the dearest spread over the ranks; the cost model's arithmetic.
#include <gtest/gtest.h>

#include "distributed/mpi_communicator.h"
#include "pipelines/ranker_batch_share.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

LlamaConfig small_llama() {
  LlamaConfig c;
  c.hidden_size = 8;
  c.intermediate_size = 16;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  return c;
}

// A prompt of `length` ids that says where it came from: [tag, tag + 1, ...].
TokenizedPrompt prompt(int64_t tag, int64_t length) {
  TokenizedPrompt p;
  for (int64_t i = 0; i < length; ++i) p.ids.push_back(tag + i);
  return p;
}

TEST(RankerBatchShare, CostIsProjectionsPlusCausalAttention) {
  const PromptCost cost(small_llama());
  // Per token 2·(2·8·8 + 2·8·4 + 3·8·16) = 1152; per visible (query, key) pair 4·8 = 32.
  EXPECT_DOUBLE_EQ(cost(1), 1152 + 32);
  EXPECT_DOUBLE_EQ(cost(10), 1152 * 10 + 32 * 55);
}

TEST(RankerBatchShare, OneRankKeepsItsPrompts) {
  MpiCommunicator self(MPI_COMM_SELF);
  const std::vector<TokenizedPrompt> prompts = {prompt(10, 3), prompt(20, 1), prompt(30, 5)};
  const auto share = balanced_prompt_share(self, prompts, PromptCost(small_llama()), 4);
  ASSERT_EQ(share.size(), 3u);
  for (size_t i = 0; i < share.size(); ++i) EXPECT_EQ(share[i].ids, prompts[i].ids) << i;
}

TEST(RankerBatchShareMultiRank, TwoRanksGetEveryPromptOnceAndSpreadTheLongest) {
  LLAMAREC_REQUIRE_WORLD(2);
  MpiCommunicator world(MPI_COMM_WORLD);
  // Rank 0 owns the two longest prompts and a short one, rank 1 only a short one. Longest first:
  // 40 tokens -> rank 0, 38 -> rank 1, and both short ones fit under rank 0's load on rank 1.
  const std::vector<TokenizedPrompt> prompts =
      world.rank() == 0 ? std::vector<TokenizedPrompt>{prompt(1000, 40), prompt(2000, 38), prompt(3000, 2)}
                        : std::vector<TokenizedPrompt>{prompt(4000, 3)};
  const auto share = balanced_prompt_share(world, prompts, PromptCost(small_llama()), 4);
  std::vector<int64_t> tags;
  for (const auto& p : share) {
    ASSERT_FALSE(p.ids.empty());
    const int64_t tag = p.ids.front();
    const int64_t length = tag == 1000 ? 40 : tag == 2000 ? 38 : tag == 3000 ? 2 : 3;
    EXPECT_EQ(p.ids, prompt(tag, length).ids) << tag;  // whole, not cut at the padding
    tags.push_back(tag);
  }
  EXPECT_EQ(tags, world.rank() == 0 ? (std::vector<int64_t>{1000}) : (std::vector<int64_t>{2000, 3000, 4000}));
}

TEST(RankerBatchShareMultiRank, ARankWithoutPromptsMayGetNone) {
  LLAMAREC_REQUIRE_WORLD(2);
  MpiCommunicator world(MPI_COMM_WORLD);
  const std::vector<TokenizedPrompt> prompts =
      world.rank() == 0 ? std::vector<TokenizedPrompt>{prompt(1, 5)} : std::vector<TokenizedPrompt>{};
  const auto share = balanced_prompt_share(world, prompts, PromptCost(small_llama()), 2);
  EXPECT_EQ(share.size(), world.rank() == 0 ? 1u : 0u);
}

}  // namespace
}  // namespace llamarec
