#include "pipelines/retriever_examples.h"

#include "core/error.h"

namespace llamarec {

std::vector<RetrieverExample> make_retriever_examples(const SequenceDataset& shard, int64_t max_len) {
  std::vector<RetrieverExample> examples;
  for (int64_t u = 0; u < shard.num_local_users(); ++u) {
    const int64_t n = shard.train_items(u).size;
    if (n == 0) continue;
    if (n < 2 * max_len) {
      examples.push_back({u, 0, n});
      continue;
    }
    // The reference walks i = n-max_len, n-2·max_len, ... >= 0; we store oldest first.
    std::vector<RetrieverExample> windows;
    for (int64_t i = n - max_len; i >= 0; i -= max_len) windows.push_back({u, i, i + max_len});
    examples.insert(examples.end(), windows.rbegin(), windows.rend());
  }
  return examples;
}

RetrieverBatch collate_retriever_examples(const SequenceDataset& shard, const std::vector<RetrieverExample>& examples,
                                          const std::vector<int64_t>& indices, int64_t max_len) {
  const auto b = static_cast<int64_t>(indices.size());
  RetrieverBatch batch{torch::zeros({b, max_len}, torch::kLong), torch::zeros({b, max_len}, torch::kLong)};
  auto tokens = batch.tokens.accessor<int64_t, 2>();
  auto labels = batch.labels.accessor<int64_t, 2>();
  for (int64_t row = 0; row < b; ++row) {
    const auto& ex = examples.at(static_cast<size_t>(indices[row]));
    const ItemSpan s = shard.train_items(ex.local_user);
    // Right-aligned: column max_len-1-j holds label s[end-1-j] and token s[end-2-j].
    for (int64_t j = 0; j < max_len; ++j) {
      const int64_t label_pos = ex.end - 1 - j;
      if (label_pos < ex.start) break;
      labels[row][max_len - 1 - j] = s[label_pos];
      if (label_pos - 1 >= ex.start) tokens[row][max_len - 1 - j] = s[label_pos - 1];
    }
  }
  return batch;
}

torch::Tensor left_padded_window(ItemSpan history, int64_t max_len) {
  auto out = torch::zeros({max_len}, torch::kLong);
  auto* p = out.data_ptr<int64_t>();
  const int64_t n = std::min<int64_t>(history.size, max_len);
  for (int64_t j = 0; j < n; ++j) p[max_len - n + j] = history[history.size - n + j];
  return out;
}

}  // namespace llamarec
