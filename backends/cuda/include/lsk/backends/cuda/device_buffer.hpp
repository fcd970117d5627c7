// lsk/backends/cuda/device_buffer.hpp: an owning, typed array in device memory.
//
// Host code (compiles with any C++20 compiler). device_buffer<T> holds n
// elements of a trivially copyable T allocated with cudaMalloc (256-byte
// aligned) and freed with cudaFree; it moves but does not copy. Host <-> device
// copies are synchronous (cudaMemcpy) and require the host span to have exactly
// size() elements: a mismatch throws lsk::shape_error before any CUDA call.
// An empty buffer (n == 0) allocates nothing and needs no device.
//   auto d = lsk::cuda::device_buffer<float>::from_host(host_values);
//   std::vector<float> back = d.to_host();
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "lsk/backends/cuda/error.hpp"
#include "lsk/core/error.hpp"

namespace lsk::cuda {

template <class T>
class device_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "device_buffer holds trivially copyable types only");

 public:
  using value_type = T;

  device_buffer() noexcept = default;

  explicit device_buffer(std::size_t n) {
    if (n == 0) return;
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
      raise<shape_error>("device_buffer: ", n, " elements of ", sizeof(T), " bytes overflow the byte count");
    }
    void* p = nullptr;
    LSK_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
    data_ = static_cast<T*>(p);
    size_ = n;
  }

  static device_buffer from_host(std::span<const T> src) {
    device_buffer b(src.size());
    b.copy_from_host(src);
    return b;
  }

  device_buffer(device_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    device_buffer(std::move(other)).swap(*this);
    return *this;
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;

  // cudaFree's result is ignored: a destructor cannot throw, and at program exit
  // the runtime may already be unloading. A sticky device fault is reported by
  // the next checked call instead.
  ~device_buffer() {
    if (data_ != nullptr) static_cast<void>(cudaFree(data_));
  }

  void swap(device_buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
  bool empty() const noexcept { return size_ == 0; }

  void copy_from_host(std::span<const T> src) {
    require_same_size("copy_from_host", src.size());
    if (size_ == 0) return;
    LSK_CUDA_CHECK(cudaMemcpy(data_, src.data(), size_bytes(), cudaMemcpyHostToDevice));
  }

  void copy_to_host(std::span<T> dst) const {
    require_same_size("copy_to_host", dst.size());
    if (size_ == 0) return;
    LSK_CUDA_CHECK(cudaMemcpy(dst.data(), data_, size_bytes(), cudaMemcpyDeviceToHost));
  }

  std::vector<T> to_host() const {
    std::vector<T> out(size_);
    copy_to_host(out);
    return out;
  }

  // Sets every byte to zero (all-zero bits: 0.0f, bf16 +0, integer 0).
  void zero() {
    if (size_ == 0) return;
    LSK_CUDA_CHECK(cudaMemset(data_, 0, size_bytes()));
  }

 private:
  void require_same_size(const char* what, std::size_t host_size) const {
    if (host_size != size_) {
      raise<shape_error>("device_buffer::", what, ": the host span has ", host_size,
                         " elements but the device buffer has ", size_);
    }
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace lsk::cuda
