// A thin checked layer over the HDF5 C API: every call's status is checked and a failure becomes a
// llamarec::Error naming the file, the object and HDF5's own innermost message. HDF5's automatic
// error-stack printing is switched off, so nothing but our error text reaches the user.
//
// Only what the project's files need: 1-D datasets of int32 / int64 / variable-length UTF-8
// strings, read whole or as a contiguous hyperslab, and scalar attributes (int64, double, string).
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace llamarec {

// A scalar attribute value.
using H5AttributeValue = std::variant<int64_t, double, std::string>;
using H5Attributes = std::map<std::string, H5AttributeValue>;

// "42", "0.5", "text": an attribute for display.
std::string to_string(const H5AttributeValue& value);

// Throws "<file>: <what> (HDF5: <innermost message>)" when `status` is negative.
template <typename T>
T h5_check(T status, const std::string& file, const std::string& what);

// Owns one hid_t and closes it with the matching H5*close function.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& other) noexcept { *this = std::move(other); }
  H5Handle& operator=(H5Handle&& other) noexcept;
  ~H5Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and reports whether the close succeeded.
  herr_t reset();

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// "1.10.8": the HDF5 library in use (through here, so that HDF5's set-up comes first).
std::string hdf5_library_version();

class Hdf5File {
 public:
  enum class Mode { kRead, kCreate };

  // kRead: an existing HDF5 file (clear errors for a missing file or one that is not HDF5).
  // kCreate: truncates or creates `path`. Datasets are written without timestamps so that the same
  // content gives byte-identical files.
  Hdf5File(const std::string& path, Mode mode);

  const std::string& path() const { return path_; }

  // Whether `name` ("/users/items") exists; intermediate groups are checked one by one.
  bool exists(const std::string& name) const;
  // Creates the group `name` (one level; its parent must exist).
  void create_group(const std::string& name);

  // 1-D datasets. Integer ones are chunked and deflate-compressed when the filter is available.
  void write_int64(const std::string& name, const std::vector<int64_t>& values);
  void write_int32(const std::string& name, const std::vector<int32_t>& values);
  void write_strings(const std::string& name, const std::vector<std::string>& values);

  // 2-D row-major matrices [rows, cols] (candidate lists and their scores).
  void write_int64_2d(const std::string& name, const std::vector<int64_t>& values, int64_t rows, int64_t cols);
  void write_float32_2d(const std::string& name, const std::vector<float>& values, int64_t rows, int64_t cols);
  std::vector<int64_t> read_int64_2d(const std::string& name, int64_t* rows, int64_t* cols) const;
  std::vector<float> read_float32_2d(const std::string& name, int64_t* rows, int64_t* cols) const;

  // Number of elements of the 1-D dataset `name`; errors if it is missing or not 1-D.
  int64_t length(const std::string& name) const;
  // Elements [offset, offset + count) through a hyperslab selection; count < 0 reads to the end.
  std::vector<int64_t> read_int64(const std::string& name, int64_t offset = 0, int64_t count = -1) const;
  std::vector<int32_t> read_int32(const std::string& name, int64_t offset = 0, int64_t count = -1) const;
  std::vector<std::string> read_strings(const std::string& name, int64_t offset = 0, int64_t count = -1) const;

  // Scalar attributes of the root group.
  void set_attribute(const std::string& name, const H5AttributeValue& value);
  bool has_attribute(const std::string& name) const;
  H5AttributeValue attribute(const std::string& name) const;
  H5Attributes attributes() const;

  // Flushes and closes; errors surface here (a destructor can only swallow them).
  void close();

 private:
  H5Handle open_dataset(const std::string& name, int64_t* length) const;
  void write_integers(const std::string& name, hid_t file_type, hid_t mem_type, const void* data, int64_t n);
  void write_matrix(const std::string& name, hid_t file_type, hid_t mem_type, const void* data, int64_t rows,
                    int64_t cols);
  // Opens the 2-D dataset `name`, reports its shape and reads it into `out` (resized by `resize`).
  void read_matrix(const std::string& name, hid_t mem_type, int64_t* rows, int64_t* cols,
                   const std::function<void*(int64_t)>& resize) const;
  void read_integers(const std::string& name, hid_t mem_type, void* out, int64_t offset, int64_t count) const;
  // Resolves count < 0 and checks the range against the dataset's length.
  int64_t resolve_range(const std::string& name, int64_t length, int64_t offset, int64_t count) const;

  std::string path_;
  H5Handle file_;
};

}  // namespace llamarec
