// lsk/dist/nccl_communicator.hpp: a Communicator over NCCL, for one GPU per
// rank. Needs the CUDA toolkit and NCCL (<nccl.h>, libnccl); CMake target
// lsk::nccl, defined only when CUDA is enabled (LSK_ENABLE_CUDA) and NCCL is
// found. Compiles with the host C++ compiler (no device code here).
//
//   ncclUniqueId id;  // rank 0: ncclGetUniqueId(&id), then share it (e.g. over MPI)
//   lsk::dist::nccl_communicator comm(id, rank, size, device, stream);
// Buffers are device pointers on `device` (Communicator requirement 5).
// all_reduce_sum: ncclAllReduce(ncclSum) in place; send_recv: ncclSend +
// ncclRecv in one group (a ring shift when all ranks call it together). Every
// call synchronises its stream before returning, so callers may reuse buffers
// at once (simple, not fastest: the CUDA issues may add an asynchronous form).
// Errors throw lsk::error with NCCL's / CUDA's message.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <span>
#include <string_view>
#include <utility>

#include "lsk/core/error.hpp"
#include "lsk/dist/communicator.hpp"

namespace lsk::dist {

namespace nccl_detail {
inline void check(ncclResult_t r, std::string_view what) {
  if (r != ncclSuccess) raise<error>("nccl: ", what, " failed: ", ncclGetErrorString(r));
}
inline void check(cudaError_t r, std::string_view what) {
  if (r != cudaSuccess) raise<error>("nccl: ", what, " failed: ", cudaGetErrorString(r));
}
template <class T>
constexpr ncclDataType_t type_of();
template <>
constexpr ncclDataType_t type_of<float>() {
  return ncclFloat32;
}
template <>
constexpr ncclDataType_t type_of<double>() {
  return ncclFloat64;
}
}  // namespace nccl_detail

class nccl_communicator {
 public:
  static constexpr std::string_view name = "nccl";
  static constexpr memory_space memory = memory_space::device;

  nccl_communicator(const ncclUniqueId& id, int rank, int size, int device, cudaStream_t stream = nullptr)
      : rank_(rank), size_(size), device_(device), stream_(stream) {
    nccl_detail::check(cudaSetDevice(device_), "cudaSetDevice");
    nccl_detail::check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }
  nccl_communicator(const nccl_communicator&) = delete;
  nccl_communicator& operator=(const nccl_communicator&) = delete;
  nccl_communicator(nccl_communicator&& other) noexcept
      : comm_(std::exchange(other.comm_, nullptr)),
        rank_(other.rank_),
        size_(other.size_),
        device_(other.device_),
        stream_(other.stream_) {}
  nccl_communicator& operator=(nccl_communicator&&) = delete;
  ~nccl_communicator() {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }
  ncclComm_t native() const { return comm_; }
  cudaStream_t stream() const { return stream_; }

  void all_reduce_sum(std::span<float> buf) { reduce(buf); }
  void all_reduce_sum(std::span<double> buf) { reduce(buf); }
  void send_recv(std::span<const float> send, int dest, std::span<float> recv, int src) {
    exchange(send, dest, recv, src);
  }
  void send_recv(std::span<const double> send, int dest, std::span<double> recv, int src) {
    exchange(send, dest, recv, src);
  }
  // A zero-byte all-reduce: returns once every rank has reached it.
  void barrier() {
    nccl_detail::check(ncclAllReduce(nullptr, nullptr, 0, ncclFloat32, ncclSum, comm_, stream_), "ncclAllReduce");
    sync();
  }

 private:
  template <class T>
  void reduce(std::span<T> buf) {
    nccl_detail::check(
        ncclAllReduce(buf.data(), buf.data(), buf.size(), nccl_detail::type_of<T>(), ncclSum, comm_, stream_),
        "ncclAllReduce");
    sync();
  }
  template <class T>
  void exchange(std::span<const T> send, int dest, std::span<T> recv, int src) {
    nccl_detail::check(ncclGroupStart(), "ncclGroupStart");
    nccl_detail::check(ncclSend(send.data(), send.size(), nccl_detail::type_of<T>(), dest, comm_, stream_), "ncclSend");
    nccl_detail::check(ncclRecv(recv.data(), recv.size(), nccl_detail::type_of<T>(), src, comm_, stream_), "ncclRecv");
    nccl_detail::check(ncclGroupEnd(), "ncclGroupEnd");
    sync();
  }
  void sync() { nccl_detail::check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

  ncclComm_t comm_ = nullptr;
  int rank_, size_, device_;
  cudaStream_t stream_;
};

static_assert(Communicator<nccl_communicator>);

}  // namespace lsk::dist
