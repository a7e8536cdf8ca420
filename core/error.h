// Errors: one exception type whose message names the file/key and the problem, so that the CLI can
// print it and exit non-zero. Throw with llamarec::fail(...) using fmt-style formatting.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace llamarec {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace llamarec
