#include "core/hdf5_file.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"

namespace llamarec {
namespace {

// Once, before any other HDF5 call (every one goes through Hdf5File or hdf5_library_version):
// - HDF5 prints its error stack to stderr by default; our errors carry the message instead.
// - no clean-up at exit: a file whose close failed (disk full) stays in HDF5's table, and closing it
//   again from atexit crashes (H5F__close_cb). Every file we write is closed explicitly before it
//   is committed, so there is nothing left for exit to flush.
void init_hdf5() {
  static const bool done = [] {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// HDF5's system-call failures read "file write failed: time = ..., filename = ..., errno = 28,
// error message = 'No space left on device', buf = ..."; keep the first words and the reason.
std::string shorten_system_error(const std::string& text) {
  const std::string marker = "error message = '";
  const auto at = text.find(marker);
  if (at == std::string::npos) return text;
  const auto begin = at + marker.size();
  const auto end = text.find('\'', begin);
  const auto head = text.substr(0, std::min(text.find(':'), text.size()));
  return head + ": " + text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

herr_t innermost_error(unsigned n, const H5E_error2_t* entry, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n != 0) return 0;  // walking upward, entry 0 is the most specific one
  std::string text = entry->desc ? entry->desc : "";
  if (text.empty()) {
    char buffer[256] = {0};
    if (H5Eget_msg(entry->min_num, nullptr, buffer, sizeof(buffer)) > 0) text = buffer;
  }
  *out = shorten_system_error(text);
  return 0;
}

// The innermost message of HDF5's current error stack, then clears the stack.
std::string hdf5_error_message() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, &message);
  H5Eclear2(H5E_DEFAULT);
  return message;
}

[[noreturn]] void h5_fail(const std::string& file, const std::string& what) {
  const std::string detail = hdf5_error_message();
  if (detail.empty()) fail("{}: {}", file, what);
  fail("{}: {} (HDF5: {})", file, what, detail);
}

H5Handle make_handle(hid_t id, H5Handle::Closer closer, const std::string& file, const std::string& what) {
  if (id < 0) h5_fail(file, what);
  return H5Handle(id, closer);
}

// Variable-length UTF-8 string type, used both in the file and in memory.
H5Handle utf8_string_type(const std::string& file) {
  H5Handle type = make_handle(H5Tcopy(H5T_C_S1), H5Tclose, file, "cannot create string type");
  h5_check(H5Tset_size(type.get(), H5T_VARIABLE), file, "cannot size string type");
  h5_check(H5Tset_cset(type.get(), H5T_CSET_UTF8), file, "cannot set UTF-8 on string type");
  return type;
}

// Dataset creation properties without modification times: same content, same bytes.
H5Handle dataset_properties(const std::string& file) {
  H5Handle dcpl = make_handle(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, file, "cannot create dataset properties");
  h5_check(H5Pset_obj_track_times(dcpl.get(), false), file, "cannot disable object times");
  return dcpl;
}

H5Handle one_d_space(int64_t n, const std::string& file) {
  const hsize_t dims[1] = {static_cast<hsize_t>(n)};
  return make_handle(H5Screate_simple(1, dims, nullptr), H5Sclose, file, "cannot create dataspace");
}

// File space of `dataset` restricted to [offset, offset + count).
H5Handle select_range(hid_t dataset, int64_t offset, int64_t count, const std::string& file, const std::string& name) {
  H5Handle space = make_handle(H5Dget_space(dataset), H5Sclose, file, "cannot get dataspace of " + name);
  const hsize_t start[1] = {static_cast<hsize_t>(offset)};
  const hsize_t size[1] = {static_cast<hsize_t>(count)};
  h5_check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, size, nullptr), file,
           "cannot select elements of " + name);
  return space;
}

}  // namespace

template <typename T>
T h5_check(T status, const std::string& file, const std::string& what) {
  if (status < 0) h5_fail(file, what);
  return status;
}
template herr_t h5_check<herr_t>(herr_t, const std::string&, const std::string&);
template hid_t h5_check<hid_t>(hid_t, const std::string&, const std::string&);

std::string to_string(const H5AttributeValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) return fmt::format("{}", *d);
  return std::get<std::string>(value);
}

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = std::exchange(other.id_, -1);
    closer_ = std::exchange(other.closer_, nullptr);
  }
  return *this;
}

herr_t H5Handle::reset() {
  herr_t status = 0;
  if (id_ >= 0 && closer_) status = closer_(id_);
  id_ = -1;
  return status;
}

std::string hdf5_library_version() {
  init_hdf5();
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

Hdf5File::Hdf5File(const std::string& path, Mode mode) : path_(path) {
  init_hdf5();
  H5Handle fapl = make_handle(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, path, "cannot create file access properties");
  if (mode == Mode::kCreate) {
    file_ = make_handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, path,
                        "cannot create HDF5 file");
    return;
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("{}: no such file", path);
  if (!std::filesystem::is_regular_file(path, ec)) fail("{}: not a regular file", path);
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), fapl.get());
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
  if (is_hdf5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    fail("{}: not an HDF5 file (no HDF5 signature; truncated or a different format?)", path);
  }
#if H5_VERSION_GE(1, 10, 7)
  // Read-only opens need no lock; locking fails on some parallel file systems (NFS, Lustre).
  h5_check(H5Pset_file_locking(fapl.get(), false, true), path, "cannot disable file locking");
#endif
  file_ = make_handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, path,
                      "cannot open HDF5 file (corrupt or truncated?)");
}

bool Hdf5File::exists(const std::string& name) const {
  // H5Lexists needs every intermediate link to exist, so walk the path one level at a time.
  std::string prefix;
  size_t start = name.front() == '/' ? 1 : 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    prefix = name.substr(0, end);
    if (prefix.empty() || prefix == "/") break;
    const htri_t found =
        h5_check(H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT), path_, "cannot look up " + prefix);
    if (found <= 0) return false;
    start = end + 1;
  }
  return true;
}

void Hdf5File::create_group(const std::string& name) {
  H5Handle gcpl = make_handle(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, path_, "cannot create group properties");
  h5_check(H5Pset_obj_track_times(gcpl.get(), false), path_, "cannot disable object times");
  H5Handle group = make_handle(H5Gcreate2(file_.get(), name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose,
                               path_, "cannot create group " + name);
}

void Hdf5File::write_integers(const std::string& name, hid_t file_type, hid_t mem_type, const void* data, int64_t n) {
  H5Handle space = one_d_space(n, path_);
  H5Handle dcpl = dataset_properties(path_);
  if (n > 0) {
    const hsize_t chunk[1] = {static_cast<hsize_t>(std::min<int64_t>(n, 1 << 16))};
    h5_check(H5Pset_chunk(dcpl.get(), 1, chunk), path_, "cannot set chunking of " + name);
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
      h5_check(H5Pset_shuffle(dcpl.get()), path_, "cannot set shuffle filter of " + name);
      h5_check(H5Pset_deflate(dcpl.get(), 4), path_, "cannot set deflate filter of " + name);
    }
  }
  H5Handle dataset =
      make_handle(H5Dcreate2(file_.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                  H5Dclose, path_, "cannot create dataset " + name);
  if (n > 0) {
    h5_check(H5Dwrite(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path_, "cannot write " + name);
  }
  h5_check(dataset.reset(), path_, "cannot close " + name);
}

void Hdf5File::write_matrix(const std::string& name, hid_t file_type, hid_t mem_type, const void* data, int64_t rows,
                            int64_t cols) {
  const hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  H5Handle space = make_handle(H5Screate_simple(2, dims, nullptr), H5Sclose, path_, "cannot create dataspace");
  H5Handle dcpl = dataset_properties(path_);
  H5Handle dataset =
      make_handle(H5Dcreate2(file_.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                  H5Dclose, path_, "cannot create dataset " + name);
  if (rows * cols > 0) {
    h5_check(H5Dwrite(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path_, "cannot write " + name);
  }
  h5_check(dataset.reset(), path_, "cannot close " + name);
}

void Hdf5File::read_matrix(const std::string& name, hid_t mem_type, int64_t* rows, int64_t* cols,
                           const std::function<void*(int64_t)>& resize) const {
  if (!exists(name)) fail("{}: missing dataset {}", path_, name);
  H5Handle dataset =
      make_handle(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose, path_, "cannot open dataset " + name);
  H5Handle space = make_handle(H5Dget_space(dataset.get()), H5Sclose, path_, "cannot get dataspace of " + name);
  if (H5Sget_simple_extent_ndims(space.get()) != 2) fail("{}: dataset {} is not 2-D", path_, name);
  hsize_t dims[2] = {0, 0};
  h5_check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), path_, "cannot get shape of " + name);
  *rows = static_cast<int64_t>(dims[0]);
  *cols = static_cast<int64_t>(dims[1]);
  void* out = resize(*rows * *cols);
  if (*rows * *cols > 0) {
    h5_check(H5Dread(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), path_, "cannot read " + name);
  }
}

void Hdf5File::write_int64_2d(const std::string& name, const std::vector<int64_t>& values, int64_t rows, int64_t cols) {
  if (static_cast<int64_t>(values.size()) != rows * cols) fail("{}: {} needs {} values", path_, name, rows * cols);
  write_matrix(name, H5T_STD_I64LE, H5T_NATIVE_INT64, values.data(), rows, cols);
}

void Hdf5File::write_float32_2d(const std::string& name, const std::vector<float>& values, int64_t rows, int64_t cols) {
  if (static_cast<int64_t>(values.size()) != rows * cols) fail("{}: {} needs {} values", path_, name, rows * cols);
  write_matrix(name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values.data(), rows, cols);
}

std::vector<int64_t> Hdf5File::read_int64_2d(const std::string& name, int64_t* rows, int64_t* cols) const {
  std::vector<int64_t> out;
  read_matrix(name, H5T_NATIVE_INT64, rows, cols, [&](int64_t n) {
    out.resize(static_cast<size_t>(n));
    return static_cast<void*>(out.data());
  });
  return out;
}

std::vector<float> Hdf5File::read_float32_2d(const std::string& name, int64_t* rows, int64_t* cols) const {
  std::vector<float> out;
  read_matrix(name, H5T_NATIVE_FLOAT, rows, cols, [&](int64_t n) {
    out.resize(static_cast<size_t>(n));
    return static_cast<void*>(out.data());
  });
  return out;
}

void Hdf5File::write_int64(const std::string& name, const std::vector<int64_t>& values) {
  write_integers(name, H5T_STD_I64LE, H5T_NATIVE_INT64, values.data(), static_cast<int64_t>(values.size()));
}

void Hdf5File::write_int32(const std::string& name, const std::vector<int32_t>& values) {
  write_integers(name, H5T_STD_I32LE, H5T_NATIVE_INT32, values.data(), static_cast<int64_t>(values.size()));
}

void Hdf5File::write_strings(const std::string& name, const std::vector<std::string>& values) {
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].find('\0') != std::string::npos) {
      fail("{}: element {} of {} contains a NUL byte", path_, i, name);
    }
    pointers.push_back(values[i].c_str());
  }
  H5Handle type = utf8_string_type(path_);
  H5Handle space = one_d_space(static_cast<int64_t>(values.size()), path_);
  H5Handle dcpl = dataset_properties(path_);
  H5Handle dataset =
      make_handle(H5Dcreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                  H5Dclose, path_, "cannot create dataset " + name);
  if (!values.empty()) {
    h5_check(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), path_,
             "cannot write " + name);
  }
  h5_check(dataset.reset(), path_, "cannot close " + name);
}

H5Handle Hdf5File::open_dataset(const std::string& name, int64_t* length) const {
  if (!exists(name)) fail("{}: missing dataset {}", path_, name);
  H5Handle dataset =
      make_handle(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose, path_, "cannot open dataset " + name);
  H5Handle space = make_handle(H5Dget_space(dataset.get()), H5Sclose, path_, "cannot get dataspace of " + name);
  const int rank = h5_check(H5Sget_simple_extent_ndims(space.get()), path_, "cannot get rank of " + name);
  if (rank != 1) fail("{}: dataset {} has {} dimensions, expected 1", path_, name, rank);
  hsize_t dims[1] = {0};
  h5_check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), path_, "cannot get size of " + name);
  *length = static_cast<int64_t>(dims[0]);
  return dataset;
}

int64_t Hdf5File::length(const std::string& name) const {
  int64_t n = 0;
  open_dataset(name, &n);
  return n;
}

int64_t Hdf5File::resolve_range(const std::string& name, int64_t length, int64_t offset, int64_t count) const {
  if (count < 0) count = length - offset;
  if (offset < 0 || count < 0 || offset + count > length) {
    fail("{}: cannot read elements [{}, {}) of {}, which has {}", path_, offset, offset + count, name, length);
  }
  return count;
}

void Hdf5File::read_integers(const std::string& name, hid_t mem_type, void* out, int64_t offset, int64_t count) const {
  int64_t n = 0;
  H5Handle dataset = open_dataset(name, &n);
  H5Handle type = make_handle(H5Dget_type(dataset.get()), H5Tclose, path_, "cannot get type of " + name);
  if (H5Tget_class(type.get()) != H5T_INTEGER) fail("{}: dataset {} is not an integer dataset", path_, name);
  if (count == 0) return;
  H5Handle file_space = select_range(dataset.get(), offset, count, path_, name);
  H5Handle mem_space = one_d_space(count, path_);
  h5_check(H5Dread(dataset.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out), path_,
           fmt::format("cannot read elements [{}, {}) of {}", offset, offset + count, name));
}

std::vector<int64_t> Hdf5File::read_int64(const std::string& name, int64_t offset, int64_t count) const {
  count = resolve_range(name, length(name), offset, count);
  std::vector<int64_t> values(static_cast<size_t>(count));
  read_integers(name, H5T_NATIVE_INT64, values.data(), offset, count);
  return values;
}

std::vector<int32_t> Hdf5File::read_int32(const std::string& name, int64_t offset, int64_t count) const {
  count = resolve_range(name, length(name), offset, count);
  std::vector<int32_t> values(static_cast<size_t>(count));
  read_integers(name, H5T_NATIVE_INT32, values.data(), offset, count);
  return values;
}

std::vector<std::string> Hdf5File::read_strings(const std::string& name, int64_t offset, int64_t count) const {
  int64_t n = 0;
  H5Handle dataset = open_dataset(name, &n);
  count = resolve_range(name, n, offset, count);
  H5Handle file_type = make_handle(H5Dget_type(dataset.get()), H5Tclose, path_, "cannot get type of " + name);
  if (H5Tget_class(file_type.get()) != H5T_STRING || H5Tis_variable_str(file_type.get()) <= 0) {
    fail("{}: dataset {} is not a variable-length string dataset", path_, name);
  }
  std::vector<std::string> values(static_cast<size_t>(count));
  if (count == 0) return values;
  H5Handle mem_type = utf8_string_type(path_);
  h5_check(H5Tset_cset(mem_type.get(), H5Tget_cset(file_type.get())), path_, "cannot match string encoding");
  H5Handle file_space = select_range(dataset.get(), offset, count, path_, name);
  H5Handle mem_space = one_d_space(count, path_);
  std::vector<char*> pointers(static_cast<size_t>(count), nullptr);
  h5_check(H5Dread(dataset.get(), mem_type.get(), mem_space.get(), file_space.get(), H5P_DEFAULT, pointers.data()),
           path_, fmt::format("cannot read elements [{}, {}) of {}", offset, offset + count, name));
  for (size_t i = 0; i < pointers.size(); ++i) {
    if (pointers[i]) values[i] = pointers[i];
  }
  H5Dvlen_reclaim(mem_type.get(), mem_space.get(), H5P_DEFAULT, pointers.data());
  return values;
}

void Hdf5File::set_attribute(const std::string& name, const H5AttributeValue& value) {
  const htri_t present = h5_check(H5Aexists(file_.get(), name.c_str()), path_, "cannot look up attribute " + name);
  if (present > 0) h5_check(H5Adelete(file_.get(), name.c_str()), path_, "cannot replace attribute " + name);
  H5Handle space = make_handle(H5Screate(H5S_SCALAR), H5Sclose, path_, "cannot create scalar dataspace");
  H5Handle string_type;
  hid_t file_type = -1, mem_type = -1;
  const void* data = nullptr;
  const char* text = nullptr;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    file_type = H5T_STD_I64LE, mem_type = H5T_NATIVE_INT64, data = i;
  } else if (const auto* d = std::get_if<double>(&value)) {
    file_type = H5T_IEEE_F64LE, mem_type = H5T_NATIVE_DOUBLE, data = d;
  } else {
    string_type = utf8_string_type(path_);
    file_type = mem_type = string_type.get();
    text = std::get<std::string>(value).c_str();
    data = &text;
  }
  H5Handle attribute =
      make_handle(H5Acreate2(file_.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                  path_, "cannot create attribute " + name);
  h5_check(H5Awrite(attribute.get(), mem_type, data), path_, "cannot write attribute " + name);
}

bool Hdf5File::has_attribute(const std::string& name) const {
  return h5_check(H5Aexists(file_.get(), name.c_str()), path_, "cannot look up attribute " + name) > 0;
}

H5AttributeValue Hdf5File::attribute(const std::string& name) const {
  if (!has_attribute(name)) fail("{}: missing attribute {}", path_, name);
  H5Handle attribute =
      make_handle(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT), H5Aclose, path_, "cannot open attribute " + name);
  H5Handle space = make_handle(H5Aget_space(attribute.get()), H5Sclose, path_, "cannot get dataspace of " + name);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) fail("{}: attribute {} is not a scalar", path_, name);
  H5Handle type = make_handle(H5Aget_type(attribute.get()), H5Tclose, path_, "cannot get type of attribute " + name);
  const std::string what = "cannot read attribute " + name;
  switch (H5Tget_class(type.get())) {
    case H5T_INTEGER: {
      int64_t v = 0;
      h5_check(H5Aread(attribute.get(), H5T_NATIVE_INT64, &v), path_, what);
      return v;
    }
    case H5T_FLOAT: {
      double v = 0;
      h5_check(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &v), path_, what);
      return v;
    }
    case H5T_STRING: {
      if (H5Tis_variable_str(type.get()) > 0) {
        char* text = nullptr;
        h5_check(H5Aread(attribute.get(), type.get(), &text), path_, what);
        std::string v = text ? text : "";
        H5free_memory(text);
        return v;
      }
      std::string buffer(H5Tget_size(type.get()), '\0');
      h5_check(H5Aread(attribute.get(), type.get(), buffer.data()), path_, what);
      buffer.resize(buffer.find('\0') == std::string::npos ? buffer.size() : buffer.find('\0'));
      return buffer;
    }
    default:
      fail("{}: attribute {} is not an integer, float or string", path_, name);
  }
}

namespace {
herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

H5Attributes Hdf5File::attributes() const {
  std::vector<std::string> names;
  h5_check(H5Aiterate2(file_.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attribute_name, &names), path_,
           "cannot list attributes");
  H5Attributes values;
  for (const auto& name : names) values.emplace(name, attribute(name));
  return values;
}

void Hdf5File::close() { h5_check(file_.reset(), path_, "cannot close (flush) the file"); }

}  // namespace llamarec
