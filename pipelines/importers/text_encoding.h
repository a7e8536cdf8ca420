// UTF-8 validation and conversion: every string the importers keep is UTF-8; Latin-1 sources
// (MovieLens 1M / 100K) are converted.
#pragma once
#include <string>
#include <string_view>

namespace llamarec {

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// Every byte is the code point of the same value.
std::string latin1_to_utf8(std::string_view text);

// `text` unchanged when it is valid UTF-8, else taken as Latin-1 (for sources that mix the two).
std::string utf8_or_latin1(std::string_view text);

// Code points of valid UTF-8 (check first with is_valid_utf8), and back.
std::u32string decode_utf8(std::string_view text);
std::string encode_utf8(std::u32string_view text);
void append_utf8(std::string& out, char32_t code_point);

// Python's str.isspace() (the characters str.strip() removes).
bool is_python_space(char32_t c);

// str.strip() on code points / on UTF-8 text.
std::u32string python_strip(std::u32string_view text);
std::string python_strip(std::string_view utf8);

}  // namespace llamarec
