#include "tests/pipelines/synthetic_dataset.h"

#include "pipelines/preprocess.h"

namespace llamarec::testing {

std::string make_synthetic_dataset(const std::filesystem::path& path, int64_t users, int64_t items, int64_t min_length,
                                   int64_t max_length) {
  PreprocessOptions o;
  o.format = "synthetic";
  o.output = path.string();
  o.synthetic.users = users;
  o.synthetic.items = items;
  o.synthetic.min_length = min_length;
  o.synthetic.max_length = max_length;
  run_preprocess(o);
  return path.string();
}

}  // namespace llamarec::testing
