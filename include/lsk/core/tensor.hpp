// lsk/core/tensor.hpp: an owning, contiguous, row-major tensor, on the host
// or in a device_memory (lsk/core/device_memory.hpp).
//
// A host tensor keeps its elements in a std::vector. A device tensor keeps
// them in memory allocated from its resource (zeroed on allocation): data()
// and view() give the device address for a backend's ops, while element
// access, values() and the host algorithms refuse it with an lsk::error.
// Copies stay in the source's memory; to() / copy_from() move elements between
// the host and a device. The resource must outlive its tensors.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "lsk/core/device_memory.hpp"
#include "lsk/core/tensor_view.hpp"

namespace lsk {

template <class T>
class tensor {
 public:
  using value_type = T;

  tensor() = default;
  explicit tensor(shape extents, T fill = T{})
      : storage_(static_cast<std::size_t>(extents.numel()), fill), shape_(extents) {}
  tensor(shape extents, std::vector<T> values) : storage_(std::move(values)), shape_(extents) {
    if (static_cast<index_t>(storage_.size()) != extents.numel()) {
      raise<shape_error>("tensor: ", storage_.size(), " values for shape ", extents.str());
    }
  }
  // Zero-filled, in `memory` (nullptr: on the host).
  tensor(shape extents, device_memory* memory) : shape_(extents) {
    if (memory == nullptr) {
      storage_.assign(static_cast<std::size_t>(extents.numel()), T{});
    } else {
      allocate_on(memory);
      if (on_device()) memory->zero(device_.get(), bytes());
    }
  }

  tensor(const tensor& other) : storage_(other.storage_), shape_(other.shape_) {
    if (other.on_device()) {
      allocate_on(other.memory());
      memory()->copy_on_device(device_.get(), other.device_.get(), bytes());
    }
  }
  tensor& operator=(const tensor& other) {
    if (this != &other) *this = tensor(other);
    return *this;
  }
  tensor(tensor&&) noexcept = default;
  tensor& operator=(tensor&&) noexcept = default;
  ~tensor() = default;

  const shape& extents() const { return shape_; }
  int rank() const { return shape_.rank(); }
  index_t dim(int i) const { return shape_[i < 0 ? rank() + i : i]; }
  index_t numel() const { return shape_.numel(); }
  // True for a default-constructed tensor (no shape, no storage).
  bool empty() const { return shape_.rank() == 0 && storage_.empty() && !device_; }
  static constexpr dtype type() { return dtype_of<T>; }

  // Where the elements are: nullptr for the host.
  device_memory* memory() const { return device_ ? device_.get_deleter().memory : nullptr; }
  bool on_device() const { return static_cast<bool>(device_); }

  T* data() { return on_device() ? device_.get() : storage_.data(); }
  const T* data() const { return on_device() ? device_.get() : storage_.data(); }
  std::vector<T>& values() { return host_storage("values()"); }
  const std::vector<T>& values() const { return const_cast<tensor*>(this)->host_storage("values()"); }

  tensor_view<T> view() { return {data(), shape_}; }
  tensor_view<const T> view() const { return {data(), shape_}; }
  operator tensor_view<T>() { return view(); }              // NOLINT(google-explicit-constructor)
  operator tensor_view<const T>() const { return view(); }  // NOLINT(google-explicit-constructor)

  template <class... I>
  T& operator()(I... idx) {
    host_storage("element access");
    return view()(idx...);
  }
  template <class... I>
  const T& operator()(I... idx) const {
    const_cast<tensor*>(this)->host_storage("element access");
    return view()(idx...);
  }

  void fill(T value) {
    if (!on_device()) {
      std::fill(storage_.begin(), storage_.end(), value);
    } else if (is_zero(value)) {
      memory()->zero(device_.get(), bytes());
    } else {
      const std::vector<T> host(static_cast<std::size_t>(numel()), value);
      memory()->copy_to_device(device_.get(), host.data(), bytes());
    }
  }

  // Same elements, new extents (numel must match).
  void reshape(shape extents) {
    if (extents.numel() != numel()) raise<shape_error>("tensor: cannot reshape ", shape_.str(), " to ", extents.str());
    shape_ = extents;
  }

  // A copy of this tensor in `memory` (nullptr: on the host).
  tensor to(device_memory* memory) const {
    tensor out(shape_, memory);
    out.copy_from(*this);
    return out;
  }
  tensor to_host() const { return to(nullptr); }

  // Copies the elements of `src` (same extents, any memory) into this tensor.
  void copy_from(const tensor& src) {
    if (!(src.extents() == shape_)) {
      raise<shape_error>("tensor: cannot copy ", src.extents().str(), " into ", shape_.str());
    }
    if (bytes() == 0) return;
    if (on_device() && src.on_device()) {
      memory()->copy_on_device(data(), src.data(), bytes());
    } else if (on_device()) {
      memory()->copy_to_device(data(), src.data(), bytes());
    } else if (src.on_device()) {
      src.memory()->copy_to_host(data(), src.data(), bytes());
    } else {
      std::copy(src.storage_.begin(), src.storage_.end(), storage_.begin());
    }
  }

 private:
  struct device_deleter {
    device_memory* memory = nullptr;
    void operator()(T* p) const noexcept { memory->deallocate(p); }
  };

  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * sizeof(T); }
  void allocate_on(device_memory* memory) {
    static_assert(std::is_trivially_copyable_v<T>, "device tensors hold trivially copyable elements");
    if (bytes() == 0) return;  // nothing to allocate: an empty tensor is the same anywhere
    device_ = std::unique_ptr<T, device_deleter>(static_cast<T*>(memory->allocate(bytes())), device_deleter{memory});
  }
  std::vector<T>& host_storage(const char* what) {
    if (on_device()) {
      raise<error>("tensor ", shape_.str(), ": ", what, " needs host memory, but the tensor is in ", memory()->name(),
                   " memory (copy it with to_host())");
    }
    return storage_;
  }
  static bool is_zero(T value) {
    const T zero{};
    return std::memcmp(&value, &zero, sizeof(T)) == 0;
  }

  std::vector<T> storage_;
  std::unique_ptr<T, device_deleter> device_{nullptr, device_deleter{}};
  shape shape_;
};

// `t` itself when it is on the host, else a host copy of it made in `copy`.
template <class T>
const tensor<T>& on_host(const tensor<T>& t, tensor<T>& copy) {
  if (!t.on_device()) return t;
  copy = t.to_host();
  return copy;
}

// Element-wise copy between views of the same extents (any strides), with conversion.
template <class To, class From>
void copy(tensor_view<const From> from, tensor_view<To> to) {
  if (!(from.extents() == to.extents())) {
    raise<shape_error>("copy: source ", from.extents().str(), " and destination ", to.extents().str(), " differ");
  }
  const shape& e = from.extents();
  std::array<index_t, shape::max_rank> idx{};
  for (index_t n = 0, total = from.numel(); n < total; ++n) {
    index_t src = 0, dst = 0;
    for (int j = 0; j < e.rank(); ++j) {
      src += idx[static_cast<std::size_t>(j)] * from.stride(j);
      dst += idx[static_cast<std::size_t>(j)] * to.stride(j);
    }
    to.data()[dst] = static_cast<To>(from.data()[src]);
    for (int j = e.rank() - 1; j >= 0; --j) {
      if (++idx[static_cast<std::size_t>(j)] < e[j]) break;
      idx[static_cast<std::size_t>(j)] = 0;
    }
  }
}

// A contiguous tensor of To holding the elements of `from` converted.
template <class To, class From>
tensor<To> convert(tensor_view<const From> from) {
  tensor<To> out(from.extents());
  copy<To, From>(from, out.view());
  return out;
}

}  // namespace lsk
