// lsk/core/backend_memory.hpp: a device backend's memory as an lsk::device_memory.
//
// backend_memory<B> forwards to the DeviceMemory primitives of backend B
// (lsk/concepts/backend.hpp); tensors allocated from it live where B's ops
// run. B must outlive the resource, and the resource its tensors.
#pragma once

#include <cstddef>
#include <string_view>

#include "lsk/concepts/backend.hpp"
#include "lsk/core/device_memory.hpp"

namespace lsk {

// The memory of device backend B (which must outlive it).
template <DeviceMemory B>
class backend_memory final : public device_memory {
 public:
  explicit backend_memory(B& be) : be_(be) {}
  std::string_view name() const override { return B::name; }
  void* allocate(std::size_t bytes) override { return be_.device_allocate(bytes); }
  void deallocate(void* p) noexcept override { be_.device_free(p); }
  void copy_to_device(void* dst, const void* src, std::size_t bytes) override { be_.copy_to_device(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override { be_.copy_to_host(dst, src, bytes); }
  void copy_on_device(void* dst, const void* src, std::size_t bytes) override { be_.copy_on_device(dst, src, bytes); }
  void zero(void* p, std::size_t bytes) override { be_.zero_device(p, bytes); }

 private:
  B& be_;
};

}  // namespace lsk
