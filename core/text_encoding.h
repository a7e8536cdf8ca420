// UTF-8 validation and conversion: every string the importers keep is UTF-8; Latin-1 sources
// (MovieLens 1M / 100K) are converted.
#pragma once
#include <string>
#include <string_view>

namespace llamarec {

// data.encoding: how the text of raw files is read.
enum class TextEncoding {
  kAuto,    // UTF-8 where it is valid, else Latin-1 (per movie file, per metadata line, per field)
  kUtf8,    // UTF-8 only: invalid text is an error naming the file and line
  kLatin1,  // every byte a code point (MovieLens 1M / 100K)
};

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);
// The offset of the first byte that starts no valid sequence; npos for valid UTF-8.
size_t invalid_utf8_offset(std::string_view text);

// `text` read in `encoding`, as UTF-8. kUtf8 rejects invalid text with an error that names `where`
// (for example "movies.csv:12") and the byte.
std::string decode_text(std::string_view text, TextEncoding encoding, const std::string& where);

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
