#include "pipelines/importers/python_literal.h"

#include <cctype>
#include <charconv>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/text_encoding.h"

namespace llamarec {
namespace {

constexpr int kMaxDepth = 256;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  nlohmann::json parse_document() {
    nlohmann::json value = parse_value(0);
    skip_space();
    if (i_ != s_.size()) error("unexpected text after the literal");
    return value;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail("at offset {}: {} (near '{}')", i_, what, s_.substr(i_, 24));
  }

  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  bool consume_word(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    const size_t after = i_ + word.size();
    if (after < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[after])) || s_[after] == '_')) return false;
    i_ = after;
    return true;
  }

  nlohmann::json parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting too deep");
    skip_space();
    if (i_ == s_.size()) error("unexpected end of text");
    const char c = s_[i_];
    if (c == '{') return parse_dict(depth);
    if (c == '[') return parse_sequence(']', depth);
    if (c == '(') return parse_sequence(')', depth);
    if (c == '\'' || c == '"') return parse_string();
    if (c == 'u' || c == 'U' || c == 'b' || c == 'B' || c == 'r' || c == 'R') {
      if (looks_like_prefixed_string()) return parse_string();
    }
    if (consume_word("True")) return true;
    if (consume_word("False")) return false;
    if (consume_word("None")) return nullptr;
    if (c == '-' || c == '+' || c == '.' || std::isdigit(static_cast<unsigned char>(c))) return parse_number();
    error("expected a value");
  }

  bool looks_like_prefixed_string() const {
    size_t k = i_;
    while (k < s_.size() && k < i_ + 2 && std::strchr("uUbBrR", s_[k])) ++k;
    return k < s_.size() && (s_[k] == '\'' || s_[k] == '"');
  }

  nlohmann::json parse_dict(int depth) {
    ++i_;  // {
    nlohmann::json object = nlohmann::json::object();
    skip_space();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return object;
    }
    while (true) {
      nlohmann::json key = parse_value(depth + 1);
      std::string name;
      if (key.is_string()) {
        name = key.get<std::string>();
      } else if (key.is_primitive()) {
        name = key.dump();
      } else {
        error("dict keys must be strings, numbers, booleans or None");
      }
      skip_space();
      if (i_ == s_.size() || s_[i_] != ':') error("expected ':' after a dict key");
      ++i_;
      object[name] = parse_value(depth + 1);
      skip_space();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        skip_space();
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return object;
        }
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return object;
      }
      error("expected ',' or '}' in a dict");
    }
  }

  nlohmann::json parse_sequence(char close, int depth) {
    ++i_;  // [ or (
    nlohmann::json array = nlohmann::json::array();
    while (true) {
      skip_space();
      if (i_ < s_.size() && s_[i_] == close) {
        ++i_;
        return array;
      }
      array.push_back(parse_value(depth + 1));
      skip_space();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == close) {
        ++i_;
        return array;
      }
      error(std::string("expected ',' or '") + close + "'");
    }
  }

  uint32_t hex_digits(size_t count) {
    if (i_ + count > s_.size()) error("truncated escape sequence");
    uint32_t value = 0;
    for (size_t k = 0; k < count; ++k) {
      const char h = s_[i_ + k];
      if (!std::isxdigit(static_cast<unsigned char>(h))) error("invalid hex digit in escape sequence");
      value = value * 16 +
              static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : std::tolower(h) - 'a' + 10);
    }
    i_ += count;
    return value;
  }

  void append_code_point(std::string& out, uint32_t cp) {
    // A \uD8xx\uDCxx pair is one character; a lone surrogate cannot be UTF-8.
    if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(i_, 2) == "\\u") {
      const size_t save = i_;
      i_ += 2;
      const uint32_t low = hex_digits(4);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        append_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
        return;
      }
      i_ = save;
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
    append_utf8(out, cp);
  }

  nlohmann::json parse_string() {
    bool raw = false;
    while (s_[i_] != '\'' && s_[i_] != '"') {
      if (s_[i_] == 'r' || s_[i_] == 'R') raw = true;
      ++i_;
    }
    const char quote = s_[i_];
    const bool triple = s_.substr(i_, 3) == std::string(3, quote);
    i_ += triple ? 3 : 1;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) error("unterminated string");
      const char c = s_[i_];
      if (c == quote && (!triple || s_.substr(i_, 3) == std::string(3, quote))) {
        i_ += triple ? 3 : 1;
        return out;
      }
      if (c == '\n' && !triple) error("line break inside a string");
      if (c != '\\') {
        out += c;
        ++i_;
        continue;
      }
      if (i_ + 1 >= s_.size()) error("unterminated string");
      const char e = s_[i_ + 1];
      if (raw) {
        // Raw strings keep the backslash; it only stops the quote from ending the string.
        out += '\\';
        out += e;
        i_ += 2;
        continue;
      }
      i_ += 2;
      switch (e) {
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '\n':
          break;  // line continuation
        case 'x':
          append_code_point(out, hex_digits(2));
          break;
        case 'u':
          append_code_point(out, hex_digits(4));
          break;
        case 'U':
          append_code_point(out, hex_digits(8));
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t value = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; ++k) {
              value = value * 8 + static_cast<uint32_t>(s_[i_++] - '0');
            }
            append_code_point(out, value);
          } else {
            out += '\\';  // Python keeps unknown escapes verbatim
            out += e;
          }
      }
    }
  }

  nlohmann::json parse_number() {
    const size_t start = i_;
    if (s_[i_] == '-' || s_[i_] == '+') ++i_;
    bool is_float = false;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (std::isdigit(static_cast<unsigned char>(c)) || c == '_') {
        ++i_;
      } else if (c == '.' || c == 'e' || c == 'E') {
        is_float = true;
        ++i_;
        if ((c == 'e' || c == 'E') && i_ < s_.size() && (s_[i_] == '-' || s_[i_] == '+')) ++i_;
      } else {
        break;
      }
    }
    std::string digits;
    for (size_t k = start; k < i_; ++k) {
      if (s_[k] != '_' && s_[k] != '+') digits += s_[k];
    }
    if (digits.empty() || digits == "-") error("invalid number");
    if (!is_float) {
      int64_t value = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (ec == std::errc() && ptr == digits.data() + digits.size()) return value;
      if (ec != std::errc::result_out_of_range) error("invalid number");
    }
    double value = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) error("invalid number");
    return value;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

nlohmann::json parse_python_literal(std::string_view text) { return Parser(text).parse_document(); }

}  // namespace llamarec
