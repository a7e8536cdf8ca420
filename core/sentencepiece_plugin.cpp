#include "core/sentencepiece_plugin.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace llamarec {
namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr int kDeepBind = 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr int kDeepBind = 0;
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif

std::vector<std::filesystem::path> plugin_candidates() {
  const std::string name = "libllamarec_spm_shim.so";
  std::vector<std::filesystem::path> out;
  if (const char* env = std::getenv("LLAMAREC_SPM_SHIM"); env != nullptr && *env != '\0') out.emplace_back(env);
  std::error_code ec;
  auto dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  // Tests and benchmarks live one folder below the build root, where the plugin is built.
  for (int up = 0; !ec && up < 3 && !dir.empty(); ++up, dir = dir.parent_path()) out.push_back(dir / name);
#ifdef LLAMAREC_SPM_SHIM_BUILD_PATH
  out.emplace_back(LLAMAREC_SPM_SHIM_BUILD_PATH);
#endif
  return out;
}

template <class Fn>
void resolve(void* library, const std::string& path, const char* symbol, Fn& out) {
  out = reinterpret_cast<Fn>(dlsym(library, symbol));
  if (out == nullptr) fail("{}: SentencePiece plugin lacks symbol {}", path, symbol);
}

}  // namespace

const SentencePiecePlugin& sentencepiece_plugin() {
  static std::once_flag once;
  static SentencePiecePlugin loaded;
  static std::string load_error;
  std::call_once(once, [] {
    std::string tried;
    for (const auto& candidate : plugin_candidates()) {
      if (!std::filesystem::exists(candidate)) {
        tried += fmt::format("\n  {}: not found", candidate.string());
        continue;
      }
      // DEEPBIND: the plugin and libsentencepiece resolve their protobuf symbols among themselves,
      // not to LibTorch's libprotobuf already in the process. AddressSanitizer cannot run with it
      // (google/sanitizers#611), so sanitized builds go without and hope for no clash.
      void* library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | kDeepBind);
      if (library == nullptr) {
        tried += fmt::format("\n  {}: {}", candidate.string(), dlerror());
        continue;
      }
      try {
        SentencePiecePlugin p;
        p.path = candidate.string();
        resolve(library, p.path, "llamarec_spm_load", p.load);
        resolve(library, p.path, "llamarec_spm_free", p.free);
        resolve(library, p.path, "llamarec_spm_encode", p.encode);
        resolve(library, p.path, "llamarec_spm_decode", p.decode);
        resolve(library, p.path, "llamarec_spm_free_buffer", p.free_buffer);
        resolve(library, p.path, "llamarec_spm_piece_size", p.piece_size);
        resolve(library, p.path, "llamarec_spm_piece_to_id", p.piece_to_id);
        resolve(library, p.path, "llamarec_spm_id_to_piece", p.id_to_piece);
        resolve(library, p.path, "llamarec_spm_special_id", p.special_id);
        resolve(library, p.path, "llamarec_spm_train", p.train);
        loaded = p;
        return;
      } catch (const Error& e) {
        tried += fmt::format("\n  {}", e.what());
        dlclose(library);
      }
    }
    load_error = fmt::format(
        "cannot load the SentencePiece plugin libllamarec_spm_shim.so (set LLAMAREC_SPM_SHIM to its path); "
        "tried:{}",
        tried);
  });
  if (loaded.load == nullptr) throw Error(load_error);
  return loaded;
}

}  // namespace llamarec
