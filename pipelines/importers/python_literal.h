// Python literal → JSON, for the Amazon 2014 metadata files, which hold one Python dict literal
// per line (str(dict): single-quoted strings with escapes, True/False/None), not JSON.
#pragma once
#include <string_view>

#include <nlohmann/json.hpp>

namespace llamarec {

// Parses one literal: dict, list, tuple (→ array), str (single, double or triple quotes; u/b/r
// prefixes; \\ \' \" \n \t \r \a \b \f \v \ooo \xhh \uXXXX \UXXXXXXXX escapes; unknown escapes keep
// the backslash, as Python), int, float, True, False, None. `text` must be valid UTF-8. Non-string
// dict keys become their text. Throws llamarec::Error "at offset N: ..." (callers add file and line).
nlohmann::json parse_python_literal(std::string_view text);

}  // namespace llamarec
