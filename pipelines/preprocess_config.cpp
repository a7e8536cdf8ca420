#include "pipelines/preprocess.h"

namespace llamarec {

const std::vector<std::string>& preprocess_formats() {
  static const std::vector<std::string> formats = {"movielens", "amazon", "recbole", "synthetic"};
  return formats;
}

PreprocessOptions preprocess_options(const Config& config) {
  const DataConfig& d = config.data;
  PreprocessOptions o;
  o.format = d.format;
  o.input = d.input;
  o.meta = d.meta;
  o.encoding = d.encoding;
  o.output = config.in_run_dir(d.dataset);
  o.filter.min_user_count = d.min_user_count;
  o.filter.min_item_count = d.min_item_count;
  o.filter.min_rating = d.min_rating;
  o.synthetic.users = d.synthetic_users;
  o.synthetic.items = d.synthetic_items;
  o.synthetic.min_length = d.synthetic_min_length;
  o.synthetic.max_length = d.synthetic_max_length;
  o.synthetic.seed = static_cast<uint64_t>(config.run.seed);
  return o;
}

}  // namespace llamarec
