// lsk/dist/gradient_reducer.hpp: data-parallel gradient all-reduce in buckets,
// overlapped with the backward pass.
//
//   dist::gradient_reducer<C, float> reducer(comm, model.grads, {.bucket_elements = 1 << 20});
//   model.forward(be, batch, global_valid_tokens);
//   model.backward(be, 1.0, [&](const model::gradient_ready& r) { reducer.ready(r); });
//   reducer.finish();  // every gradient is now summed over the ranks
//
// Buckets: the parameters in the order backward() finishes their gradients
// (final norm and untied lm_head, then layers from last to first, then the
// embedding), cut into runs of at least bucket_elements elements (a tensor is
// never split; the last bucket may be smaller). A bucket is all-reduced as soon
// as its last parameter group is ready: packed into one buffer, one
// all_reduce_sum, unpacked (a bucket of one tensor is reduced in place). With
// `overlap`, a worker thread does the reductions while backward goes on; the
// caller must not use the communicator itself between the first ready() and
// finish() (Communicator requirement 5: one calling thread per rank).
// Numerics: element for element the same sums as all_reduce_gradients (the
// communicator's reduction order does not depend on how elements are packed),
// so the two agree bit for bit. With micro-batch accumulation, pass the hook
// to the last micro-batch's backward only.
// Memory: gradients in a device's memory (a model moved with llama::to) are
// packed into device buffers (copies on the device) and reduced by a
// communicator of device memory (NCCL); the caller makes the backward's device
// work finish before reporting a part ready (the trainer synchronises its
// backend). Device gradients are summed only (mean would scale on the host).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/dist/communicator.hpp"
#include "lsk/dist/data_parallel.hpp"
#include "lsk/model/gradient_ready.hpp"
#include "lsk/model/llama_weights.hpp"

namespace lsk::dist {

struct gradient_reducer_options {
  std::size_t bucket_elements = std::size_t{1} << 20;  // at least this many elements per bucket (4 MiB of f32)
  bool overlap = true;                                 // reduce on a worker thread while backward runs
  gradient_reduction op = gradient_reduction::sum;
};

template <Communicator C, real_scalar T>
class gradient_reducer {
 public:
  gradient_reducer(C& comm, model::llama_weights<T>& grads, gradient_reducer_options options = {})
      : comm_(&comm), options_(options) {
    if (options_.bucket_elements == 0) raise<config_error>("gradient_reducer: bucket_elements must be positive");
    if (grads.layers.empty() && grads.embed_tokens.empty())
      raise<config_error>("gradient_reducer: the gradients are not allocated (call enable_training() first)");
    memory_ = grads.memory();
    if (memory_ != nullptr && options_.op != gradient_reduction::sum)
      raise<config_error>("gradient_reducer: gradients in ", memory_->name(), " memory are summed, not averaged");
    // Parameter groups in the order backward() reports them.
    groups_.push_back({&grads.norm});
    if (!grads.lm_head.empty()) groups_.back().push_back(&grads.lm_head);
    for (std::size_t i = grads.layers.size(); i-- > 0;) {
      auto& l = grads.layers[i];
      groups_.push_back({&l.down_proj, &l.up_proj, &l.gate_proj, &l.post_attention_layernorm, &l.o_proj, &l.q_proj,
                         &l.k_proj, &l.v_proj, &l.input_layernorm});
    }
    groups_.push_back({&grads.embed_tokens});
    bucket current;
    std::size_t elements = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      for (auto* t : groups_[g]) {
        current.tensors.push_back(t);
        elements += static_cast<std::size_t>(t->numel());
        current.last_group = g;
        if (elements >= options_.bucket_elements) {
          buckets_.push_back(std::move(current));
          current = {};
          elements = 0;
        }
      }
    }
    if (!current.tensors.empty()) buckets_.push_back(std::move(current));
    if (options_.overlap) worker_ = std::thread([this] { work(); });
  }
  gradient_reducer(const gradient_reducer&) = delete;
  gradient_reducer& operator=(const gradient_reducer&) = delete;
  ~gradient_reducer() {
    if (worker_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
      }
      wake_.notify_all();
      worker_.join();
    }
  }

  std::size_t bucket_count() const { return buckets_.size(); }
  // Buckets handed to the reduction so far in this step.
  std::size_t launched() const { return next_bucket_; }

  // The backward hook: the gradients of part r are final.
  void ready(const model::gradient_ready& r) {
    const std::size_t g = group_index(r);
    if (g != ready_groups_) {
      raise<error>("gradient_reducer: gradients reported out of order (group ", g, " while group ", ready_groups_,
                   " was expected)");
    }
    ++ready_groups_;
    while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].last_group < ready_groups_) {
      launch(next_bucket_++);
    }
  }

  // Waits until every bucket is reduced (rethrowing a failure of the
  // reduction) and starts a new step.
  void finish() {
    if (ready_groups_ != groups_.size()) {
      raise<error>("gradient_reducer: finish() after ", ready_groups_, " of ", groups_.size(),
                   " gradient groups were reported");
    }
    if (options_.overlap) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [&] { return completed_ == buckets_.size() || failure_; });
      if (failure_) std::rethrow_exception(failure_);
      completed_ = 0;
    }
    ready_groups_ = 0;
    next_bucket_ = 0;
  }

 private:
  struct bucket {
    std::vector<tensor<T>*> tensors;
    std::size_t last_group = 0;
    tensor<T> buffer;  // the packed bucket, in the gradients' memory
  };

  std::size_t group_index(const model::gradient_ready& r) const {
    switch (r.what) {
      case model::gradient_ready::part::head:
        return 0;
      case model::gradient_ready::part::layer:
        if (r.layer + 2 >= groups_.size()) raise<error>("gradient_reducer: no layer ", r.layer);
        return groups_.size() - 2 - r.layer;
      case model::gradient_ready::part::embedding:
        return groups_.size() - 1;
    }
    return groups_.size();
  }

  void launch(std::size_t i) {
    if (!options_.overlap) {
      reduce(buckets_[i]);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(i);
    }
    wake_.notify_all();
  }

  void reduce(bucket& b) {
    if (b.tensors.size() == 1) {
      auto* t = b.tensors.front();
      all_reduce(*comm_, std::span<T>(t->data(), static_cast<std::size_t>(t->numel())), options_.op);
      return;
    }
    index_t total = 0;
    for (auto* t : b.tensors) total += t->numel();
    if (b.buffer.numel() != total) b.buffer = tensor<T>(shape{total}, memory_);
    T* packed = b.buffer.data();
    for (auto* t : b.tensors) {
      copy_elements(packed, t->data(), t->numel());
      packed += t->numel();
    }
    all_reduce(*comm_, std::span<T>(b.buffer.data(), static_cast<std::size_t>(total)), options_.op);
    packed = b.buffer.data();
    for (auto* t : b.tensors) {
      copy_elements(t->data(), packed, t->numel());
      packed += t->numel();
    }
  }

  // n elements from src to dst, both in the gradients' memory.
  void copy_elements(T* dst, const T* src, index_t n) {
    if (memory_ != nullptr) {
      memory_->copy_on_device(dst, src, static_cast<std::size_t>(n) * sizeof(T));
    } else {
      std::copy_n(src, n, dst);
    }
  }

  void work() {
    for (;;) {
      std::size_t i = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        i = queue_.front();
        queue_.pop_front();
        if (failure_) continue;  // after a failure the communicator is unusable: skip the rest
      }
      try {
        reduce(buckets_[i]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        failure_ = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++completed_;
      }
      done_.notify_all();
    }
  }

  C* comm_;
  gradient_reducer_options options_;
  device_memory* memory_ = nullptr;  // where the gradients are (nullptr: the host)
  std::vector<std::vector<tensor<T>*>> groups_;
  std::vector<bucket> buckets_;
  std::size_t ready_groups_ = 0, next_bucket_ = 0;
  // Worker state (overlap), guarded by mutex_.
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::deque<std::size_t> queue_;
  std::size_t completed_ = 0;
  std::exception_ptr failure_;
  bool stop_ = false;
};

}  // namespace lsk::dist
