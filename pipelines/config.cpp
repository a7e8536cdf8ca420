#include "pipelines/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "pipelines/preprocess.h"

namespace llamarec {
namespace {

// Keys renamed when the trainers moved to one vocabulary (steps); the old names are still read,
// with a warning, for one release.
struct RenamedKey {
  const char* section;
  const char* old_key;
  const char* new_key;
};
constexpr RenamedKey kRenamedKeys[] = {
    {"retriever", "max_iterations", "max_steps"},
    {"retriever", "max_epochs", "epochs"},
};

// The current name of `key` in `section` (itself when it was never renamed).
std::string current_key(const std::string& where, const std::string& section, const std::string& key) {
  for (const auto& r : kRenamedKeys) {
    if (section == r.section && key == r.old_key) {
      spdlog::warn("{}: {}.{} is deprecated, use {}.{} (the old name will be removed in the next release)", where,
                   section, key, section, r.new_key);
      return r.new_key;
    }
  }
  return key;
}

const char* type_name(const int64_t*) { return "an integer"; }
const char* type_name(const double*) { return "a number"; }
const char* type_name(const bool*) { return "a boolean (true/false)"; }
const char* type_name(const std::string*) { return "a string"; }
const char* type_name(const std::vector<std::string>*) { return "an array of strings"; }
template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
std::string type_name(const E*) {
  return "one of " + enum_choices<E>();
}

std::string node_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string (\"" + *node.value_exact<std::string>() + "\")";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

// Reads one TOML node into a typed field; false when the node has another type.
bool read_node(const toml::node& node, int64_t& out) {
  if (auto v = node.value_exact<int64_t>()) return out = *v, true;
  return false;
}
bool read_node(const toml::node& node, double& out) {
  if (auto v = node.value_exact<double>()) return out = *v, true;
  if (auto v = node.value_exact<int64_t>()) return out = static_cast<double>(*v), true;
  return false;
}
bool read_node(const toml::node& node, bool& out) {
  if (auto v = node.value_exact<bool>()) return out = *v, true;
  return false;
}
bool read_node(const toml::node& node, std::string& out) {
  if (auto v = node.value_exact<std::string>()) return out = *v, true;
  return false;
}

bool read_node(const toml::node& node, std::vector<std::string>& out) {
  const toml::array* array = node.as_array();
  if (!array) return false;
  std::vector<std::string> values;
  for (const auto& item : *array) {
    auto v = item.value_exact<std::string>();
    if (!v) return false;
    values.push_back(*v);
  }
  return out = values, true;
}

template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
bool read_node(const toml::node& node, E& out) {
  const auto name = node.value_exact<std::string>();
  if (!name) return false;
  const auto value = parse_enum<E>(*name);
  return value ? (out = *value, true) : false;
}

// Parses a --set value. Strings may be given bare (data.format=movielens) or quoted.
template <class Number, class Parse>
bool parse_number(const std::string& text, Number& out, Parse parse) {
  try {
    size_t used = 0;
    const Number v = parse(text, &used);
    if (used != text.size()) return false;
    return out = v, true;
  } catch (const std::exception&) {
    return false;
  }
}
bool parse_text(const std::string& text, int64_t& out) {
  return parse_number(text, out, [](const std::string& t, size_t* used) { return std::stoll(t, used); });
}
bool parse_text(const std::string& text, double& out) {
  return parse_number(text, out, [](const std::string& t, size_t* used) { return std::stod(t, used); });
}
bool parse_text(const std::string& text, bool& out) {
  if (text == "true") return out = true, true;
  if (text == "false") return out = false, true;
  return false;
}
bool parse_text(const std::string& text, std::string& out) {
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front()) {
    out = text.substr(1, text.size() - 2);
  } else {
    out = text;
  }
  return true;
}

// Arrays of strings on the command line: comma-separated (q_proj,v_proj), optionally in [ ].
bool parse_text(const std::string& text, std::vector<std::string>& out) {
  std::string body = text;
  if (body.size() >= 2 && body.front() == '[' && body.back() == ']') body = body.substr(1, body.size() - 2);
  std::vector<std::string> values;
  std::stringstream in(body);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b == std::string::npos) continue;
    std::string v;
    parse_text(item.substr(b, e - b + 1), v);
    values.push_back(v);
  }
  return out = values, true;
}

template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
bool parse_text(const std::string& text, E& out) {
  std::string name;
  parse_text(text, name);
  const auto value = parse_enum<E>(name);
  return value ? (out = *value, true) : false;
}

std::string toml_value(int64_t v) { return std::to_string(v); }
std::string toml_value(bool v) { return v ? "true" : "false"; }
std::string toml_value(double v) {
  std::string s = fmt::format("{}", v);
  if (std::isfinite(v) && s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}
std::string toml_value(const std::string& v) {
  std::string out = "\"";
  for (const char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}
template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
std::string toml_value(E v) {
  return toml_value(enum_name(v));
}
std::string toml_value(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + toml_value(v[i]);
  return out + "]";
}

// Fills sections from a parsed TOML table; every key of the file must be known.
class TableLoader {
 public:
  TableLoader(const toml::table& root, const std::string& file) : root_(root), file_(file) {}

  template <class Section>
  void section(const std::string& name, Section& s) {
    sections_.insert(name);
    const toml::node* node = root_.get(name);
    if (!node) return;
    const toml::table* table = node->as_table();
    if (!table) fail("{}: [{}] must be a table, got {}", file_, name, node_type_name(*node));
    // The file's keys under their current names (a renamed key counts as its new name).
    std::map<std::string, std::pair<std::string, const toml::node*>> given;  // current -> (as written, value)
    for (const auto& [key, value] : *table) {
      const std::string written(key.str());
      const auto current = current_key(file_, name, written);
      if (given.count(current))
        fail("{}: {}.{} and {}.{} are the same key; keep only {}", file_, name, given[current].first, name, written,
             current);
      given[current] = {written, &value};
    }
    std::set<std::string> known;
    auto visit_key = [&](const char* key, auto& field, const char*) {
      known.insert(key);
      const auto it = given.find(key);
      if (it == given.end()) return;
      const toml::node& value = *it->second.second;
      if (!read_node(value, field)) {
        fail("{}: {}.{} must be {}, got {}", file_, name, it->second.first, type_name(&field), node_type_name(value));
      }
    };
    s.visit(visit_key);
    for (const auto& [current, written] : given) {
      if (!known.count(current)) {
        fail("{}: unknown key {}.{} (known keys of [{}]: {})", file_, name, written.first, name, join(known));
      }
    }
  }

  void check_sections() const {
    for (const auto& [key, value] : root_) {
      if (!sections_.count(std::string(key.str()))) {
        fail("{}: unknown section [{}] (known sections: {})", file_, key.str(), join(sections_));
      }
    }
  }

 private:
  static std::string join(const std::set<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  const toml::table& root_;
  std::string file_;
  std::set<std::string> sections_;
};

// Applies one `section.key=value` override.
class OverrideSetter {
 public:
  OverrideSetter(std::string section, std::string key, std::string value)
      : section_(std::move(section)), key_(std::move(key)), value_(std::move(value)) {}

  template <class Section>
  void section(const std::string& name, Section& s) {
    if (name != section_) return;
    section_found_ = true;
    auto visit_key = [&](const char* key, auto& field, const char*) {
      if (key_ != key) return;
      found_ = true;
      if (!parse_text(value_, field)) {
        fail("--set {}.{}={}: expected {}", section_, key_, value_, type_name(&field));
      }
    };
    s.visit(visit_key);
  }

  void check() const {
    if (!section_found_) fail("--set {}.{}: unknown section [{}]", section_, key_, section_);
    if (!found_) fail("--set {}.{}: unknown key {} in [{}]", section_, key_, key_, section_);
  }

 private:
  std::string section_, key_, value_;
  bool section_found_ = false;
  bool found_ = false;
};

class TomlWriter {
 public:
  template <class Section>
  void section(const std::string& name, Section& s) {
    out_ << "\n[" << name << "]\n";
    auto visit_key = [&](const char* key, auto& field, const char* doc) {
      out_ << "# " << doc << "\n" << key << " = " << toml_value(field) << "\n";
    };
    s.visit(visit_key);
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

class ValueCollector {
 public:
  template <class Section>
  void section(const std::string& name, Section& s) {
    auto visit_key = [&](const char* key, auto& field, const char*) { values_[name + "." + key] = toml_value(field); };
    s.visit(visit_key);
  }
  std::map<std::string, std::string> take() { return std::move(values_); }

 private:
  std::map<std::string, std::string> values_;
};

void require(bool ok, const Config& c, const char* key, const std::string& expected) {
  if (!ok) fail("{}: {} is invalid: expected {}", c.origin(key), key, expected);
}

void validate_config(const Config& c) {
  const auto one_of = [](const std::string& v, std::initializer_list<const char*> options) {
    for (const char* o : options) {
      if (v == o) return true;
    }
    return false;
  };
  require(!c.run.dir.empty(), c, "run.dir", "a non-empty path");
  require(c.run.threads >= 0, c, "run.threads", ">= 0");
  require(one_of(c.run.log_level, {"trace", "debug", "info", "warn", "error"}), c, "run.log_level",
          "one of trace, debug, info, warn, error");
  const auto& formats = preprocess_formats();
  require(std::find(formats.begin(), formats.end(), c.data.format) != formats.end(), c, "data.format",
          fmt::format("one of {} (got '{}')", fmt::join(formats, ", "), c.data.format));
  require(c.data.format == "synthetic" || !c.data.input.empty(), c, "data.input",
          "a path to the raw data for format '" + c.data.format + "'");
  require(!c.data.dataset.empty(), c, "data.dataset", "a non-empty path");
  require(c.data.min_user_count >= 1, c, "data.min_user_count", ">= 1");
  require(c.data.min_item_count >= 1, c, "data.min_item_count", ">= 1");
  require(c.data.min_rating >= 0, c, "data.min_rating", ">= 0");
  require(c.data.synthetic_users >= 1, c, "data.synthetic_users", ">= 1");
  require(c.data.synthetic_items >= 2, c, "data.synthetic_items", ">= 2");
  require(c.data.synthetic_min_length >= 3, c, "data.synthetic_min_length",
          ">= 3 (leave-one-out needs train, val, test)");
  require(c.data.synthetic_max_length >= c.data.synthetic_min_length, c, "data.synthetic_max_length",
          ">= data.synthetic_min_length");
  const auto& r = c.retriever;
  require(r.max_len >= 2, c, "retriever.max_len", ">= 2");
  require(r.model.hidden >= 1, c, "retriever.hidden", ">= 1");
  require(r.model.num_blocks >= 1, c, "retriever.num_blocks", ">= 1");
  require(r.model.dropout >= 0 && r.model.dropout < 1, c, "retriever.dropout", "in [0, 1)");
  require(r.model.attn_dropout >= 0 && r.model.attn_dropout < 1, c, "retriever.attn_dropout", "in [0, 1)");
  require(r.batch_size >= 1, c, "retriever.batch_size", ">= 1");
  require(r.lr > 0, c, "retriever.lr", "> 0");
  require(r.warmup_steps >= 0, c, "retriever.warmup_steps", ">= 0");
  require(r.weight_decay >= 0, c, "retriever.weight_decay", ">= 0");
  require(r.adam_eps > 0, c, "retriever.adam_eps", "> 0");
  require(r.clip_grad_norm >= 0, c, "retriever.clip_grad_norm", ">= 0 (0 = off)");
  require(r.epochs >= 1, c, "retriever.epochs", ">= 1");
  require(r.max_steps >= 0, c, "retriever.max_steps", ">= 0 (0 = no limit)");
  require(r.val_interval >= 1, c, "retriever.val_interval", ">= 1");
  require(r.patience >= 1, c, "retriever.patience", ">= 1");
  require(one_of(r.select_on, {"Recall@1", "Recall@5", "Recall@10", "Recall@20", "NDCG@1", "NDCG@5", "NDCG@10",
                               "NDCG@20", "MRR@1", "MRR@5", "MRR@10", "MRR@20"}),
          c, "retriever.select_on",
          fmt::format("Recall@K, NDCG@K or MRR@K with K in 1, 5, 10, 20 (got '{}')", r.select_on));
  require(r.average_decay == 0 || (r.average_decay > 0 && r.average_decay < 1), c, "retriever.average_decay",
          "0 (off) or in (0, 1)");
  require(r.checkpoint_interval >= 0, c, "retriever.checkpoint_interval", ">= 0 (0 = at validations only)");
  require(r.max_bad_steps >= 1, c, "retriever.max_bad_steps", ">= 1");
  require(r.eval_batch_size >= 1, c, "retriever.eval_batch_size", ">= 1");
  require(!r.checkpoint.empty(), c, "retriever.checkpoint", "a non-empty path");
  require(c.retrieval.top_k >= 1, c, "retrieval.top_k", ">= 1");
  require(!c.retrieval.candidates.empty(), c, "retrieval.candidates", "a non-empty path");
  require(!c.eval.metrics.empty(), c, "eval.metrics", "a non-empty path");
  const auto& k = c.ranker;
  require(k.batch_size >= 1, c, "ranker.batch_size", ">= 1");
  require(k.eval_batch_size >= 1, c, "ranker.eval_batch_size", ">= 1");
  require(k.lr > 0, c, "ranker.lr", "> 0");
  require(k.warmup_steps >= 0, c, "ranker.warmup_steps", ">= 0");
  require(k.weight_decay >= 0, c, "ranker.weight_decay", ">= 0");
  require(k.clip_grad_norm >= 0, c, "ranker.clip_grad_norm", ">= 0 (0 = off)");
  require(k.epochs >= 1, c, "ranker.epochs", ">= 1");
  require(k.max_steps >= 0, c, "ranker.max_steps", ">= 0 (0 = the whole epochs)");
  require(k.val_interval >= 1, c, "ranker.val_interval", ">= 1");
  require(k.patience >= 1, c, "ranker.patience", ">= 1");
  require(k.checkpoint_interval >= 0, c, "ranker.checkpoint_interval", ">= 0 (0 = at validations only)");
  require(k.max_bad_steps >= 1, c, "ranker.max_bad_steps", ">= 1");
  require(k.val_users >= 0, c, "ranker.val_users", ">= 0 (0 = every user of the val subset)");
  require(k.permutations >= 0 && k.permutations <= 64, c, "ranker.permutations", "in [0, 64]");
  require(k.max_history >= 1, c, "ranker.max_history", ">= 1");
  require(k.max_title_tokens >= 1, c, "ranker.max_title_tokens", ">= 1");
  require(k.max_text_tokens >= 16, c, "ranker.max_text_tokens", ">= 16");
  require(k.num_candidates >= 2 && k.num_candidates <= 26, c, "ranker.num_candidates", "in [2, 26] (letters A..Z)");
  require(k.num_candidates <= c.retrieval.top_k, c, "ranker.num_candidates", "<= retrieval.top_k");
  require(!k.adapter.empty(), c, "ranker.adapter", "a non-empty path");
  validate_lora_config(c.lora, c.origin("lora."));
  const auto& b = c.builtin_llama;
  require(!b.dir.empty(), c, "builtin_llama.dir", "a non-empty path");
  require(b.vocab_size >= 300 && b.vocab_size <= 1'000'000, c, "builtin_llama.vocab_size",
          "in [300, 1000000] (byte fallback alone takes 259 pieces)");
  require(b.hidden_size >= 8, c, "builtin_llama.hidden_size", ">= 8");
  require(b.intermediate_size >= 1, c, "builtin_llama.intermediate_size", ">= 1");
  require(b.num_hidden_layers >= 1, c, "builtin_llama.num_hidden_layers", ">= 1");
  require(b.num_attention_heads >= 1 && b.hidden_size % b.num_attention_heads == 0 &&
              (b.hidden_size / b.num_attention_heads) % 2 == 0,
          c, "builtin_llama.num_attention_heads", ">= 1, dividing hidden_size into heads of even size (RoPE)");
  require(b.num_key_value_heads >= 1 && b.num_attention_heads % b.num_key_value_heads == 0, c,
          "builtin_llama.num_key_value_heads", ">= 1 and dividing num_attention_heads");
  // Only where the built-in Llama is the base (ranker.model empty): a Hugging Face base has its own.
  require(!c.ranker.model.empty() || b.max_position_embeddings >= c.ranker.max_text_tokens + 2, c,
          "builtin_llama.max_position_embeddings",
          ">= ranker.max_text_tokens + 2 (the prompt, the answer letter and EOS)");
  require(b.corpus_prompts >= 0, c, "builtin_llama.corpus_prompts", ">= 0");
  require(c.distributed.timeout_s >= 1, c, "distributed.timeout_s", ">= 1");
}

}  // namespace

std::string Config::origin(const std::string& key) const {
  if (!key.empty() && key.back() == '.') {
    for (auto it = overridden.rbegin(); it != overridden.rend(); ++it) {
      if (it->first.compare(0, key.size(), key) == 0) return it->second;
    }
    return source;
  }
  const auto it = overridden.find(key);
  return it != overridden.end() ? it->second : source;
}

std::string Config::in_run_dir(const std::string& path) const {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(run.dir) / path).string();
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config config;
  if (!path.empty()) {
    config.source = path;
    if (!std::filesystem::exists(path)) fail("{}: config file not found", path);
    toml::table root;
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      fail("{}:{}:{}: malformed TOML: {}", path, where.line, where.column, e.description());
    }
    TableLoader loader(root, path);
    config.visit_sections(loader);
    loader.check_sections();
  }
  for (const auto& item : overrides) {
    const auto eq = item.find('=');
    const auto dot = item.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
      fail("--set {}: expected section.key=value", item);
    }
    const auto section = item.substr(0, dot);
    const auto key = current_key("--set " + item, section, item.substr(dot + 1, eq - dot - 1));
    OverrideSetter setter(section, key, item.substr(eq + 1));
    config.visit_sections(setter);
    setter.check();
    config.overridden[section + "." + key] = "--set " + item;
  }
  validate_config(config);
  return config;
}

std::string config_to_toml(const Config& config) {
  TomlWriter writer;
  Config copy = config;
  copy.visit_sections(writer);
  return "# llamarec effective configuration (source: " + config.source + ")\n" + writer.str();
}

ConfigValues config_values(const Config& config) {
  ValueCollector collector;
  Config copy = config;
  copy.visit_sections(collector);
  return collector.take();
}

void save_config(const Config& config, const std::string& path) { write_file_atomic(path, config_to_toml(config)); }

}  // namespace llamarec
