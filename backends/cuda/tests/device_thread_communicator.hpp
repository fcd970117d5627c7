// backends/cuda/tests/device_thread_communicator.hpp: P ranks as threads of one
// process on one GPU, moving device memory, for the multi-rank tests without
// several GPUs or NCCL. Every call is collective. send_recv copies the source
// rank's device buffer (cudaMemcpy); all_reduce_sum copies every rank's buffer
// to the host, adds them in rank order in the element type, and writes the sum
// back (every rank gets the same bits). Declares device memory, like NCCL.
#pragma once

#include <cuda_runtime_api.h>

#include <barrier>
#include <span>
#include <string_view>
#include <vector>

#include "lsk/backends/cuda/error.hpp"
#include "lsk/concepts/backend.hpp"
#include "lsk/dist/communicator.hpp"

struct device_thread_world {
  explicit device_thread_world(int n) : size(n), sync(n), buffers(static_cast<std::size_t>(n)) {}
  int size;
  std::barrier<> sync;
  std::vector<const void*> buffers;
};

class device_thread_communicator {
 public:
  static constexpr std::string_view name = "device threads";
  static constexpr lsk::memory_space memory = lsk::memory_space::device;
  device_thread_communicator(device_thread_world& w, int rank) : world_(&w), rank_(rank) {}
  int rank() const { return rank_; }
  int size() const { return world_->size; }
  void all_reduce_sum(std::span<float> buf) { reduce(buf); }
  void all_reduce_sum(std::span<double> buf) { reduce(buf); }
  void send_recv(std::span<const float> send, int, std::span<float> recv, int src) { exchange(send, recv, src); }
  void send_recv(std::span<const double> send, int, std::span<double> recv, int src) { exchange(send, recv, src); }
  void barrier() { world_->sync.arrive_and_wait(); }

 private:
  template <class T>
  void exchange(std::span<const T> send, std::span<T> recv, int src) {
    world_->buffers[static_cast<std::size_t>(rank_)] = send.data();
    world_->sync.arrive_and_wait();
    LSK_CUDA_CHECK(cudaMemcpy(recv.data(), world_->buffers[static_cast<std::size_t>(src)], recv.size_bytes(),
                              cudaMemcpyDeviceToDevice));
    world_->sync.arrive_and_wait();
  }
  template <class T>
  void reduce(std::span<T> buf) {
    LSK_CUDA_CHECK(cudaDeviceSynchronize());  // the buffers' producers are done
    world_->buffers[static_cast<std::size_t>(rank_)] = buf.data();
    world_->sync.arrive_and_wait();
    std::vector<T> sum(buf.size(), T(0)), part(buf.size());
    for (int r = 0; r < world_->size; ++r) {
      LSK_CUDA_CHECK(cudaMemcpy(part.data(), world_->buffers[static_cast<std::size_t>(r)], buf.size_bytes(),
                                cudaMemcpyDeviceToHost));
      for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
    }
    world_->sync.arrive_and_wait();  // every rank has read every buffer
    LSK_CUDA_CHECK(cudaMemcpy(buf.data(), sum.data(), buf.size_bytes(), cudaMemcpyHostToDevice));
  }
  device_thread_world* world_;
  int rank_;
};
static_assert(lsk::Communicator<device_thread_communicator>);
