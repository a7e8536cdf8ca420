#include "core/tokenizer.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/sentencepiece_shim/spm_shim.h"

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
}  // namespace

namespace {

// The plugin's entry points, resolved once per process.
struct Plugin {
  std::string path;
  llamarec_spm_load_fn load = nullptr;
  llamarec_spm_free_fn free = nullptr;
  llamarec_spm_encode_fn encode = nullptr;
  llamarec_spm_decode_fn decode = nullptr;
  llamarec_spm_free_buffer_fn free_buffer = nullptr;
  llamarec_spm_piece_size_fn piece_size = nullptr;
  llamarec_spm_piece_to_id_fn piece_to_id = nullptr;
  llamarec_spm_id_to_piece_fn id_to_piece = nullptr;
  llamarec_spm_special_id_fn special_id = nullptr;
};

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

const Plugin& plugin() {
  static std::once_flag once;
  static Plugin loaded;
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
        Plugin p;
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

}  // namespace

struct Tokenizer::Impl {
  const Plugin* plugin = nullptr;
  llamarec_spm* handle = nullptr;
  std::string path;
  int64_t vocab_size = 0;
  int64_t unk = -1, bos = -1, eos = -1, pad = -1;

  ~Impl() {
    if (handle != nullptr) plugin->free(handle);
  }
};

Tokenizer::Tokenizer(const std::string& model_path) {
  if (!std::filesystem::is_regular_file(model_path)) fail("{}: tokenizer model not found", model_path);
  const Plugin& p = plugin();
  auto impl = std::make_shared<Impl>();
  impl->plugin = &p;
  impl->path = model_path;
  char error[1024] = {0};
  impl->handle = p.load(model_path.c_str(), error, sizeof(error));
  if (impl->handle == nullptr) fail("{}: cannot load SentencePiece model: {}", model_path, error);
  impl->vocab_size = p.piece_size(impl->handle);
  impl->unk = p.special_id(impl->handle, 0);
  impl->bos = p.special_id(impl->handle, 1);
  impl->eos = p.special_id(impl->handle, 2);
  impl->pad = p.special_id(impl->handle, 3);
  impl_ = std::move(impl);
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_bos, bool add_eos) const {
  int32_t* ids = nullptr;
  size_t count = 0;
  char error[1024] = {0};
  if (impl_->plugin->encode(impl_->handle, text.data(), text.size(), &ids, &count, error, sizeof(error)) != 0)
    fail("{}: cannot encode text ({} bytes): {}", impl_->path, text.size(), error);
  std::vector<int64_t> out;
  out.reserve(count + 2);
  if (add_bos) {
    if (impl_->bos < 0) fail("{}: BOS requested but the model defines no BOS piece", impl_->path);
    out.push_back(impl_->bos);
  }
  out.insert(out.end(), ids, ids + count);
  impl_->plugin->free_buffer(ids);
  if (add_eos) {
    if (impl_->eos < 0) fail("{}: EOS requested but the model defines no EOS piece", impl_->path);
    out.push_back(impl_->eos);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int32_t> narrow;
  narrow.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= impl_->vocab_size)
      fail("{}: cannot decode id {} at position {}: vocabulary has {} pieces", impl_->path, ids[i], i,
           impl_->vocab_size);
    narrow.push_back(static_cast<int32_t>(ids[i]));
  }
  char* text = nullptr;
  size_t size = 0;
  char error[1024] = {0};
  if (impl_->plugin->decode(impl_->handle, narrow.data(), narrow.size(), &text, &size, error, sizeof(error)) != 0)
    fail("{}: cannot decode {} ids: {}", impl_->path, ids.size(), error);
  std::string out(text, size);
  impl_->plugin->free_buffer(text);
  return out;
}

std::string Tokenizer::id_to_piece(int64_t id) const {
  size_t size = 0;
  const char* piece =
      (id < 0 || id > INT32_MAX) ? nullptr : impl_->plugin->id_to_piece(impl_->handle, static_cast<int>(id), &size);
  if (piece == nullptr) fail("{}: id {} out of range (vocabulary has {} pieces)", impl_->path, id, impl_->vocab_size);
  return std::string(piece, size);
}

std::optional<int64_t> Tokenizer::piece_to_id(const std::string& piece) const {
  const int id = impl_->plugin->piece_to_id(impl_->handle, piece.data(), piece.size());
  if (id < 0) return std::nullopt;
  return id;
}

int64_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
int64_t Tokenizer::bos_id() const { return impl_->bos; }
int64_t Tokenizer::eos_id() const { return impl_->eos; }
int64_t Tokenizer::unk_id() const { return impl_->unk; }
int64_t Tokenizer::pad_id() const { return impl_->pad; }
const std::string& Tokenizer::path() const { return impl_->path; }

std::vector<std::string> candidate_letters(int count) {
  if (count < 0 || count > 26) fail("candidate letters: count {} outside 0..26", count);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) out.emplace_back(1, static_cast<char>('A' + i));
  return out;
}

std::vector<int64_t> letter_token_ids(const Tokenizer& tokenizer, const std::vector<std::string>& letters,
                                      const std::string& context) {
  const auto prefix = tokenizer.encode(context);
  std::vector<int64_t> out;
  for (const auto& letter : letters) {
    const auto ids = tokenizer.encode(context + letter);
    const bool extends = ids.size() == prefix.size() + 1 && std::equal(prefix.begin(), prefix.end(), ids.begin());
    if (!extends)
      fail("{}: letter '{}' after context {:?} is not a single extra token ({} ids vs {} for the context alone)",
           tokenizer.path(), letter, context, ids.size(), prefix.size());
    out.push_back(ids.back());
  }
  return out;
}

std::vector<int64_t> letter_token_ids_dummy_prefix(const Tokenizer& tokenizer,
                                                   const std::vector<std::string>& letters) {
  std::vector<int64_t> out;
  for (const auto& letter : letters) {
    const auto ids = tokenizer.encode(letter);
    if (ids.size() != 1) fail("{}: letter '{}' encodes to {} tokens, expected 1", tokenizer.path(), letter, ids.size());
    out.push_back(ids.front());
  }
  return out;
}

}  // namespace llamarec
