// Atomic file output: write to `<path>.tmp`, then rename over `path`, so that a crash or an error
// never leaves a half-written file under the final name and never destroys the previous one.
#pragma once
#include <functional>
#include <string>

namespace llamarec {

// Writes `contents` to `path` atomically (creating parent directories).
void write_file_atomic(const std::string& path, const std::string& contents);

// Calls `write(tmp_path)` to produce the file, then renames it to `path`. If `write` throws, the
// temporary file is removed and the exception propagates; `path` is untouched.
void commit_file_atomic(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// A directory of files that must change together (a training state): `write(new_dir)` fills a fresh
// `<dir>.new`, which then replaces `dir` (the old one parked as `<dir>.old` meanwhile), so that a
// crash leaves either the old or the new state complete.
void commit_directory_atomic(const std::string& dir, const std::function<void(const std::string& new_dir)>& write);

}  // namespace llamarec
