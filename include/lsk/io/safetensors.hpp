// lsk/io/safetensors.hpp: read and write Hugging Face safetensors files.
//
// Format (all integers little-endian):
//   bytes [0, 8)          N, an unsigned 64-bit header length
//   bytes [8, 8 + N)      a UTF-8 JSON object (writers pad it with trailing spaces):
//                           { "<tensor name>": { "dtype": "F32", "shape": [2, 3],
//                                                "data_offsets": [begin, end] }, ...,
//                             "__metadata__": { "<key>": "<string value>", ... } }  (optional)
//   bytes [8 + N, end)    the data section; tensor t occupies bytes
//                         [8 + N + begin, 8 + N + end): numel(shape) * size(dtype)
//                         bytes, contiguous, row-major (C order), little-endian.
// Layout of a tensor of shape (d0, ..., dk): element (i0, ..., ik) -> byte offset
// begin + size(dtype) * (((i0 * d1 + i1) * d2 + ...) * dk + ik).
//
// Validation (every failure is an lsk::format_error naming the file and the byte
// offset or the tensor): the header length must fit in the file; the header must
// be a JSON object with no duplicate keys at any level; each entry needs a known
// "dtype", a "shape" of non-negative integers and two "data_offsets" begin <= end
// with end - begin == numel * size(dtype); "__metadata__" must map strings to
// strings. Sorted by begin, the tensors must tile the data section exactly, as
// the reference implementation requires: no overlap, no gap, nothing after the
// last tensor, and nothing missing (a truncated file).
//
// Reading: reader::open reads and validates only the header; each tensor's bytes
// are read when asked for (pread on a descriptor held open, so a reader is
// cheap to copy and safe to use from several threads). reader::from_bytes does
// the same over a buffer in memory. Element types: F64, F32, F16, BF16 convert
// to float / double / bf16 (F16 and BF16 exactly; F64 -> float and
// float -> bf16 round to nearest even); I64, I32, I16, I8, U8, U16, U32, U64
// and BOOL convert to int32 (range-checked); F8_E4M3 and F8_E5M2 are known
// (their raw bytes can be read) but not converted. raw() returns the stored
// bytes and info().type the stored dtype, for callers that want them as-is.
//
// Writing: writer collects tensors (f32 stored as F32, or rounded to BF16 with
// round-to-nearest-even; bf16 stored as BF16) and string metadata, then writes
// the file atomically (lsk/io/atomic_write.hpp): a temporary file in the same
// directory, fsync, rename. The header is padded with spaces so that the data
// section starts at a multiple of 8 bytes. Tensors appear in insertion order.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/core/bf16.hpp"
#include "lsk/core/error.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/io/atomic_write.hpp"

namespace lsk::io::safetensors {

// The element types a safetensors file may declare (the subset lsk knows).
enum class element_type : std::uint8_t {
  f64,
  f32,
  f16,
  bf16,
  f8_e4m3,
  f8_e5m2,
  i64,
  i32,
  i16,
  i8,
  u64,
  u32,
  u16,
  u8,
  boolean
};

// The dtype string in the header: "F64", "F32", "F16", "BF16", ...
constexpr std::string_view file_name(element_type t) {
  switch (t) {
    case element_type::f64:
      return "F64";
    case element_type::f32:
      return "F32";
    case element_type::f16:
      return "F16";
    case element_type::bf16:
      return "BF16";
    case element_type::f8_e4m3:
      return "F8_E4M3";
    case element_type::f8_e5m2:
      return "F8_E5M2";
    case element_type::i64:
      return "I64";
    case element_type::i32:
      return "I32";
    case element_type::i16:
      return "I16";
    case element_type::i8:
      return "I8";
    case element_type::u64:
      return "U64";
    case element_type::u32:
      return "U32";
    case element_type::u16:
      return "U16";
    case element_type::u8:
      return "U8";
    case element_type::boolean:
      return "BOOL";
  }
  return "?";
}

constexpr std::size_t size_of(element_type t) {
  switch (t) {
    case element_type::f64:
    case element_type::i64:
    case element_type::u64:
      return 8;
    case element_type::f32:
    case element_type::i32:
    case element_type::u32:
      return 4;
    case element_type::f16:
    case element_type::bf16:
    case element_type::i16:
    case element_type::u16:
      return 2;
    case element_type::f8_e4m3:
    case element_type::f8_e5m2:
    case element_type::i8:
    case element_type::u8:
    case element_type::boolean:
      return 1;
  }
  return 0;
}

// True for the types that convert to float / double / bf16.
constexpr bool is_convertible_to_float(element_type t) {
  return t == element_type::f64 || t == element_type::f32 || t == element_type::f16 || t == element_type::bf16;
}
// True for the types that convert to int32.
constexpr bool is_integral(element_type t) {
  switch (t) {
    case element_type::i64:
    case element_type::i32:
    case element_type::i16:
    case element_type::i8:
    case element_type::u64:
    case element_type::u32:
    case element_type::u16:
    case element_type::u8:
    case element_type::boolean:
      return true;
    default:
      return false;
  }
}

inline std::optional<element_type> parse_element_type(std::string_view s) {
  constexpr element_type all[] = {
      element_type::f64,     element_type::f32, element_type::f16, element_type::bf16, element_type::f8_e4m3,
      element_type::f8_e5m2, element_type::i64, element_type::i32, element_type::i16,  element_type::i8,
      element_type::u64,     element_type::u32, element_type::u16, element_type::u8,   element_type::boolean};
  for (element_type t : all)
    if (file_name(t) == s) return t;
  return std::nullopt;
}

// One entry of the header.
struct tensor_info {
  std::string name;
  element_type type = element_type::f32;
  std::vector<std::int64_t> extents;  // as stored; rank 0 is a scalar
  std::uint64_t begin = 0;            // byte offsets relative to the data section
  std::uint64_t end = 0;

  std::uint64_t numel() const {
    std::uint64_t n = 1;
    for (std::int64_t e : extents) n *= static_cast<std::uint64_t>(e);
    return n;
  }
  std::uint64_t byte_size() const { return end - begin; }
  // The extents as an lsk::shape (shape_error when the rank exceeds shape::max_rank).
  lsk::shape shape() const {
    if (extents.size() > static_cast<std::size_t>(lsk::shape::max_rank)) {
      raise<shape_error>("safetensors: tensor '", name, "' has rank ", extents.size(), ", more than lsk's maximum of ",
                         lsk::shape::max_rank);
    }
    lsk::shape s;
    for (std::int64_t e : extents) s.push_back(e);
    return s;
  }
};

namespace detail {

inline std::uint64_t load_u64_le(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint64_t>(p[i]);
  return v;
}

template <class U>
U load_le(const std::byte* p) {
  static_assert(std::is_unsigned_v<U>);
  if constexpr (std::endian::native == std::endian::little) {
    U v;
    std::memcpy(&v, p, sizeof(U));
    return v;
  } else {
    U v = 0;
    for (std::size_t i = sizeof(U); i-- > 0;) v = static_cast<U>((v << 8) | static_cast<U>(p[i]));
    return v;
  }
}

template <class U>
void store_le(U v, std::byte* p) {
  static_assert(std::is_unsigned_v<U>);
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xFFu);
}

// IEEE binary16 -> binary32, exact.
inline float f16_to_float(std::uint16_t h) {
  const bool negative = (h & 0x8000u) != 0;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits = 0;
  if (exponent == 0x1F) {
    bits = 0x7F800000u | (mantissa << 13);  // inf or NaN (payload kept)
  } else if (exponent == 0) {
    // zero or subnormal: mantissa * 2^-24 is exact in binary32
    const float v = std::ldexp(static_cast<float>(mantissa), -24);
    return negative ? -v : v;
  } else {
    bits = ((exponent + 112u) << 23) | (mantissa << 13);
  }
  if (negative) bits |= 0x80000000u;
  return std::bit_cast<float>(bits);
}

// Keys seen per open JSON object, to reject duplicates (nlohmann keeps the last).
struct duplicate_key_check {
  std::vector<std::vector<std::string>> open;
  std::string top_key;    // the top-level key whose value is being parsed
  std::string duplicate;  // the first duplicate found
  std::string where;      // which object holds it
};

inline void fail_json(std::string_view source, std::uint64_t offset, const std::string& what) {
  raise<format_error>("safetensors: ", source, ": bad JSON header at byte offset ", offset, ": ", what);
}

}  // namespace detail

class reader {
 public:
  // Opens `path`, reads and validates the header. io_error when the file cannot
  // be opened or read, format_error when it is malformed.
  static reader open(const std::filesystem::path& path) {
    reader r;
    r.source_ = path.string();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      raise<io_error>("safetensors: cannot open '", r.source_, "': ", io::detail::errno_text(err));
    }
    r.fd_ = std::shared_ptr<const int>(new int(fd), [](const int* p) {
      ::close(*p);
      delete p;
    });
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      raise<io_error>("safetensors: cannot stat '", r.source_, "': ", io::detail::errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) raise<io_error>("safetensors: '", r.source_, "' is not a regular file");
    r.file_size_ = static_cast<std::uint64_t>(st.st_size);
    std::byte len[8];
    if (r.file_size_ < 8) {
      raise<format_error>("safetensors: ", r.source_, ": file is ", r.file_size_,
                          " bytes, shorter than the 8-byte header length at byte offset 0");
    }
    r.read_at(0, len, 8);
    const std::uint64_t n = detail::load_u64_le(len);
    r.check_header_length(n);
    std::string header(static_cast<std::size_t>(n), '\0');
    r.read_at(8, reinterpret_cast<std::byte*>(header.data()), header.size());
    r.parse_header(header);
    return r;
  }

  // The same over a buffer in memory; `source` names it in error messages.
  static reader from_bytes(std::vector<std::byte> bytes, std::string source = "<memory>") {
    reader r;
    r.source_ = std::move(source);
    r.memory_ = std::make_shared<const std::vector<std::byte>>(std::move(bytes));
    r.file_size_ = r.memory_->size();
    if (r.file_size_ < 8) {
      raise<format_error>("safetensors: ", r.source_, ": file is ", r.file_size_,
                          " bytes, shorter than the 8-byte header length at byte offset 0");
    }
    const std::uint64_t n = detail::load_u64_le(r.memory_->data());
    r.check_header_length(n);
    r.parse_header(std::string(reinterpret_cast<const char*>(r.memory_->data()) + 8, static_cast<std::size_t>(n)));
    return r;
  }

  const std::string& source() const { return source_; }
  // Tensors in data order (ascending offsets).
  const std::vector<tensor_info>& tensors() const { return tensors_; }
  const std::map<std::string, std::string, std::less<>>& metadata() const { return metadata_; }
  // Byte offset of the data section in the file (8 + header length).
  std::uint64_t data_offset() const { return data_offset_; }
  std::uint64_t file_size() const { return file_size_; }

  bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }
  // The entry for `name`; index_error when there is none.
  const tensor_info& info(std::string_view name) const {
    auto it = index_.find(name);
    if (it == index_.end()) raise<index_error>("safetensors: ", source_, ": no tensor named '", name, "'");
    return tensors_[it->second];
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& t : tensors_) out.push_back(t.name);
    return out;
  }

  // The stored little-endian bytes of `name`, exactly as in the file.
  std::vector<std::byte> raw(std::string_view name) const {
    const tensor_info& t = info(name);
    std::vector<std::byte> out(static_cast<std::size_t>(t.byte_size()));
    read_at(data_offset_ + t.begin, out.data(), out.size());
    return out;
  }

  // `name` converted to T: float, double or bf16 from F64/F32/F16/BF16; int32
  // from the integer types (index_error naming the element if out of range).
  // Converting between float and integer types is a shape_error (wrong dtype).
  template <class T>
  requires(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16> ||
           std::is_same_v<T, std::int32_t>) tensor<T> read(std::string_view name)
  const {
    const tensor_info& t = info(name);
    const lsk::shape extents = t.shape();
    constexpr bool want_int = std::is_same_v<T, std::int32_t>;
    if (want_int ? !is_integral(t.type) : !is_convertible_to_float(t.type)) {
      raise<shape_error>("safetensors: ", source_, ": tensor '", name, "' is ", file_name(t.type),
                         ", which does not convert to ", want_int ? "int32" : "a floating-point type");
    }
    const std::vector<std::byte> bytes = raw(name);
    tensor<T> out(extents);
    T* dst = out.data();
    const std::size_t n = static_cast<std::size_t>(t.numel());
    const std::byte* p = bytes.data();
    if constexpr (want_int) {
      for (std::size_t i = 0; i < n; ++i) dst[i] = int_at(t, p, i);
    } else {
      for (std::size_t i = 0; i < n; ++i) dst[i] = float_at<T>(t.type, p, i);
    }
    return out;
  }
  tensor<float> read_f32(std::string_view name) const { return read<float>(name); }

 private:
  reader() = default;

  void check_header_length(std::uint64_t n) {
    if (n > file_size_ - 8) {
      raise<format_error>("safetensors: ", source_, ": header length ", n,
                          " (at byte offset 0) is larger than the file: only ", file_size_ - 8,
                          " bytes follow the length field");
    }
    data_offset_ = 8 + n;
  }

  void read_at(std::uint64_t offset, std::byte* out, std::size_t count) const {
    if (memory_) {
      if (offset + count > memory_->size()) {
        raise<format_error>("safetensors: ", source_, ": truncated: ", count, " bytes wanted at byte offset ", offset,
                            ", buffer is ", memory_->size(), " bytes");
      }
      std::memcpy(out, memory_->data() + offset, count);
      return;
    }
    std::size_t done = 0;
    while (done < count) {
      const ::ssize_t got = ::pread(*fd_, out + done, count - done, static_cast<::off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        raise<io_error>("safetensors: reading '", source_, "' at byte offset ", offset + done, ": ",
                        io::detail::errno_text(err));
      }
      if (got == 0) {
        raise<format_error>("safetensors: ", source_, ": truncated: the file ends at byte offset ", offset + done, ", ",
                            count - done, " bytes short of what its header describes");
      }
      done += static_cast<std::size_t>(got);
    }
  }

  void parse_header(const std::string& header) {
    detail::duplicate_key_check dup;
    nlohmann::json::parser_callback_t cb = [&dup](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      using ev = nlohmann::json::parse_event_t;
      if (event == ev::object_start) {
        dup.open.emplace_back();
      } else if (event == ev::object_end) {
        if (!dup.open.empty()) dup.open.pop_back();
      } else if (event == ev::key && !dup.open.empty() && dup.duplicate.empty()) {
        std::string key = parsed.get<std::string>();
        auto& keys = dup.open.back();
        if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
          dup.where = dup.open.size() == 1 ? std::string("the top-level object") : "the value of '" + dup.top_key + "'";
          dup.duplicate = std::move(key);
        } else {
          if (dup.open.size() == 1) dup.top_key = key;
          keys.push_back(std::move(key));
        }
      }
      return true;
    };
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(header, cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    } catch (const nlohmann::json::parse_error& e) {
      const std::uint64_t at = 8 + (e.byte > 0 ? static_cast<std::uint64_t>(e.byte) - 1 : 0);
      detail::fail_json(source_, at, e.what());
    }
    if (!dup.duplicate.empty()) {
      raise<format_error>("safetensors: ", source_, ": duplicate key '", dup.duplicate, "' in ", dup.where,
                          " of the JSON header (bytes 8 to ", data_offset_, ")");
    }
    if (!j.is_object()) detail::fail_json(source_, 8, "the header is not a JSON object");

    const std::uint64_t data_size = file_size_ - data_offset_;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      const nlohmann::json& v = it.value();
      if (key == "__metadata__") {
        if (!v.is_object()) raise<format_error>("safetensors: ", source_, ": \"__metadata__\" is not an object");
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string()) {
            raise<format_error>("safetensors: ", source_, ": \"__metadata__\" value of key '", m.key(),
                                "' is not a string");
          }
          metadata_.emplace(m.key(), m.value().get<std::string>());
        }
        continue;
      }
      tensors_.push_back(parse_entry(key, v, data_size));
    }

    std::sort(tensors_.begin(), tensors_.end(), [](const tensor_info& a, const tensor_info& b) {
      return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
    });
    std::uint64_t expected = 0;
    const tensor_info* previous = nullptr;
    for (const tensor_info& t : tensors_) {
      if (t.begin < expected) {
        raise<format_error>("safetensors: ", source_, ": tensor '", t.name, "' (bytes ", data_offset_ + t.begin, " to ",
                            data_offset_ + t.end, ") overlaps tensor '", previous->name, "' (bytes ",
                            data_offset_ + previous->begin, " to ", data_offset_ + previous->end, ")");
      }
      if (t.begin > expected) {
        raise<format_error>("safetensors: ", source_, ": bytes ", data_offset_ + expected, " to ",
                            data_offset_ + t.begin, " belong to no tensor (a gap before tensor '", t.name, "')");
      }
      expected = t.end;
      previous = &t;
    }
    if (expected != data_size) {
      raise<format_error>("safetensors: ", source_, ": ", data_size - expected,
                          " bytes after the last tensor, from byte offset ", data_offset_ + expected,
                          " to the end of the file at ", file_size_);
    }
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  }

  tensor_info parse_entry(const std::string& name, const nlohmann::json& v, std::uint64_t data_size) const {
    auto bad = [&](const auto&... what) {
      raise<format_error>("safetensors: ", source_, ": tensor '", name, "': ", what...);
    };
    if (!v.is_object()) bad("the entry is not a JSON object");
    tensor_info t;
    t.name = name;

    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) bad("missing or non-string \"dtype\"");
    const auto type = parse_element_type(dt->get<std::string>());
    if (!type) bad("unknown dtype '", dt->get<std::string>(), "'");
    t.type = *type;

    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) bad("missing or non-array \"shape\"");
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& e : *sh) {
      if (!e.is_number_unsigned()) bad("\"shape\" ", sh->dump(), " holds something other than a non-negative integer");
      const std::uint64_t x = e.get<std::uint64_t>();
      if (x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) bad("extent ", x, " is too large");
      t.extents.push_back(static_cast<std::int64_t>(x));
      if (x != 0 && numel > std::numeric_limits<std::uint64_t>::max() / x) overflow = true;
      numel *= x;
    }

    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      bad("\"data_offsets\" must be two non-negative integers [begin, end]");
    }
    t.begin = (*off)[0].get<std::uint64_t>();
    t.end = (*off)[1].get<std::uint64_t>();
    if (t.begin > t.end) bad("data_offsets [", t.begin, ", ", t.end, "] end before they begin");
    if (t.end > data_size) {
      bad("data_offsets [", t.begin, ", ", t.end, "] reach byte offset ", data_offset_ + t.end,
          ", past the end of the file at ", file_size_, " (data section of ", data_size,
          " bytes): truncated file or bad offsets");
    }
    const std::size_t esize = size_of(t.type);
    if (overflow || numel > std::numeric_limits<std::uint64_t>::max() / esize || numel * esize != t.end - t.begin) {
      bad("shape ", sh->dump(), " of ", file_name(t.type), " needs ",
          overflow ? std::string("too many") : std::to_string(numel * esize), " bytes but data_offsets [", t.begin,
          ", ", t.end, "] hold ", t.end - t.begin);
    }
    return t;
  }

  template <class T>
  static T float_at(element_type type, const std::byte* p, std::size_t i) {
    if constexpr (std::is_same_v<T, bf16>) {
      if (type == element_type::bf16) return bf16::from_bits(detail::load_le<std::uint16_t>(p + 2 * i));
      return bf16(float_at<float>(type, p, i));
    } else {
      switch (type) {
        case element_type::f64:
          return static_cast<T>(std::bit_cast<double>(detail::load_le<std::uint64_t>(p + 8 * i)));
        case element_type::f32:
          return static_cast<T>(std::bit_cast<float>(detail::load_le<std::uint32_t>(p + 4 * i)));
        case element_type::f16:
          return static_cast<T>(detail::f16_to_float(detail::load_le<std::uint16_t>(p + 2 * i)));
        case element_type::bf16:
          return static_cast<T>(bf16::to_float(detail::load_le<std::uint16_t>(p + 2 * i)));
        default:
          return T{};
      }
    }
  }

  std::int32_t int_at(const tensor_info& t, const std::byte* p, std::size_t i) const {
    auto narrow = [&](auto v) -> std::int32_t {
      if (!std::in_range<std::int32_t>(v)) {
        raise<index_error>("safetensors: ", source_, ": tensor '", t.name, "' element ", i, " = ", v,
                           " does not fit in int32");
      }
      return static_cast<std::int32_t>(v);
    };
    switch (t.type) {
      case element_type::i64:
        return narrow(static_cast<std::int64_t>(detail::load_le<std::uint64_t>(p + 8 * i)));
      case element_type::u64:
        return narrow(detail::load_le<std::uint64_t>(p + 8 * i));
      case element_type::i32:
        return static_cast<std::int32_t>(detail::load_le<std::uint32_t>(p + 4 * i));
      case element_type::u32:
        return narrow(detail::load_le<std::uint32_t>(p + 4 * i));
      case element_type::i16:
        return static_cast<std::int16_t>(detail::load_le<std::uint16_t>(p + 2 * i));
      case element_type::u16:
        return detail::load_le<std::uint16_t>(p + 2 * i);
      case element_type::i8:
        return static_cast<std::int8_t>(std::to_integer<std::uint8_t>(p[i]));
      case element_type::u8:
        return std::to_integer<std::uint8_t>(p[i]);
      case element_type::boolean:
        return std::to_integer<std::uint8_t>(p[i]) != 0 ? 1 : 0;
      default:
        return 0;
    }
  }

  std::string source_;
  std::shared_ptr<const int> fd_;
  std::shared_ptr<const std::vector<std::byte>> memory_;
  std::uint64_t file_size_ = 0;
  std::uint64_t data_offset_ = 0;
  std::vector<tensor_info> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string, std::less<>> metadata_;
};

// Every float tensor of the file at `path` converted to float (integer tensors
// are skipped), keyed by name.
inline std::map<std::string, tensor<float>, std::less<>> load_f32(const std::filesystem::path& path) {
  const reader r = reader::open(path);
  std::map<std::string, tensor<float>, std::less<>> out;
  for (const tensor_info& t : r.tensors())
    if (is_convertible_to_float(t.type)) out.emplace(t.name, r.read<float>(t.name));
  return out;
}

class writer {
 public:
  // Adds `values` (any strides) under `name`, stored as F32 or, with
  // stored == element_type::bf16, rounded to BF16 (nearest even).
  // format_error for a duplicate or reserved name, or another stored type.
  void add(std::string name, tensor_view<const float> values, element_type stored = element_type::f32) {
    if (stored != element_type::f32 && stored != element_type::bf16) {
      raise<format_error>("safetensors writer: tensor '", name, "': float tensors are stored as F32 or BF16, not ",
                          file_name(stored));
    }
    const tensor<float> dense = convert<float, float>(values);
    entry e = make_entry(std::move(name), stored, dense.extents());
    const std::size_t n = static_cast<std::size_t>(dense.numel());
    for (std::size_t i = 0; i < n; ++i) {
      if (stored == element_type::f32) {
        detail::store_le(std::bit_cast<std::uint32_t>(dense.data()[i]), e.bytes.data() + 4 * i);
      } else {
        detail::store_le(bf16::round_from_float(dense.data()[i]), e.bytes.data() + 2 * i);
      }
    }
    entries_.push_back(std::move(e));
  }

  // Adds bf16 values, stored as BF16 unchanged.
  void add(std::string name, tensor_view<const bf16> values) {
    tensor<bf16> dense(values.extents());
    copy<bf16, bf16>(values, dense.view());
    entry e = make_entry(std::move(name), element_type::bf16, dense.extents());
    const std::size_t n = static_cast<std::size_t>(dense.numel());
    for (std::size_t i = 0; i < n; ++i) detail::store_le(dense.data()[i].bits, e.bytes.data() + 2 * i);
    entries_.push_back(std::move(e));
  }

  // Sets a "__metadata__" entry (replacing an earlier value for the key).
  void set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

  std::size_t size() const { return entries_.size(); }

  // The header: the 8-byte length and the space-padded JSON.
  std::string header() const {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!metadata_.empty()) {
      nlohmann::ordered_json m = nlohmann::ordered_json::object();
      for (const auto& [k, v] : metadata_) m[k] = v;
      j["__metadata__"] = std::move(m);
    }
    std::uint64_t offset = 0;
    for (const entry& e : entries_) {
      const std::uint64_t size = e.bytes.size();
      j[e.name] = {
          {"dtype", std::string(file_name(e.type))}, {"shape", e.extents}, {"data_offsets", {offset, offset + size}}};
      offset += size;
    }
    std::string json = j.dump();
    json.append((8 - (json.size() % 8)) % 8, ' ');
    std::string out(8, '\0');
    detail::store_le(static_cast<std::uint64_t>(json.size()), reinterpret_cast<std::byte*>(out.data()));
    return out + json;
  }

  // The whole file in memory.
  std::vector<std::byte> serialize() const {
    const std::string h = header();
    std::vector<std::byte> out(reinterpret_cast<const std::byte*>(h.data()),
                               reinterpret_cast<const std::byte*>(h.data()) + h.size());
    for (const entry& e : entries_) out.insert(out.end(), e.bytes.begin(), e.bytes.end());
    return out;
  }

  // Writes the file atomically; on failure `path` keeps its old contents.
  void write(const std::filesystem::path& path) const {
    atomic_write(path, [this](atomic_file& f) {
      f.write(header());
      for (const entry& e : entries_) f.write(std::span<const std::byte>(e.bytes));
    });
  }

 private:
  struct entry {
    std::string name;
    element_type type;
    std::vector<std::int64_t> extents;
    std::vector<std::byte> bytes;
  };

  entry make_entry(std::string name, element_type type, const lsk::shape& extents) const {
    if (name == "__metadata__")
      raise<format_error>("safetensors writer: '__metadata__' is reserved, not a tensor name");
    for (const entry& e : entries_)
      if (e.name == name) raise<format_error>("safetensors writer: duplicate tensor name '", name, "'");
    entry e;
    e.name = std::move(name);
    e.type = type;
    for (int i = 0; i < extents.rank(); ++i) e.extents.push_back(extents[i]);
    e.bytes.resize(static_cast<std::size_t>(extents.numel()) * size_of(type));
    return e;
  }

  std::vector<entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (by name) and `metadata` to `path` atomically, every tensor
// stored as `stored` (F32 or BF16).
inline void save(const std::filesystem::path& path, const std::map<std::string, tensor<float>, std::less<>>& tensors,
                 const std::map<std::string, std::string, std::less<>>& metadata = {},
                 element_type stored = element_type::f32) {
  writer w;
  for (const auto& [name, t] : tensors) w.add(name, t.view(), stored);
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  w.write(path);
}

}  // namespace lsk::io::safetensors
