// lsk/core/device_memory.hpp: memory that is not the host's, for tensors.
//
// A tensor made with a device_memory (lsk/core/tensor.hpp) keeps its elements
// there: the host sees only an address, every transfer goes through the
// resource. A device backend exposes its memory as one
// (lsk/core/backend_memory.hpp adapts any backend with the DeviceMemory
// primitives), so model state can live where the backend's ops run.
// Copies are blocking: they wait for the work the backend has enqueued and are
// complete on return. zero() is ordered before the backend's later work.
#pragma once

#include <cstddef>
#include <string_view>

namespace lsk {

class device_memory {
 public:
  virtual ~device_memory() = default;
  virtual std::string_view name() const = 0;
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* p) noexcept = 0;
  virtual void copy_to_device(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copy_on_device(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void zero(void* p, std::size_t bytes) = 0;
};

}  // namespace lsk
