// lsk/dist/thread_communicator.hpp: an in-process communicator, one rank per
// thread, for unit tests of context and data parallelism.
//
// thread_world w(P); w.run([&](lsk::dist::thread_communicator& comm) { ... });
// runs the function on P threads (rank = comm.rank()) and rethrows the
// exception that occurred first (the other ranks then fail with "another rank
// failed"). Every operation is collective (all ranks call it in the same
// step): ranks publish their buffer pointers, meet at a barrier, read each
// other's buffers, and meet again before anyone reuses them. all_reduce_sum
// adds in rank order (every rank computes the same sum, bitwise).
// Each rank thread runs OpenMP regions with `threads_per_rank` threads.
// thread_grid(D, P) runs D data groups of P context ranks: f(world, context)
// on D * P threads, world rank d P + p and rank p of group d's own
// communicator (context parallelism inside data parallelism, as the trainer
// wants it); a failure on any rank fails every communicator of the grid.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/dist/communicator.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace lsk::dist {

class thread_communicator;

class thread_world {
 public:
  explicit thread_world(int size, int threads_per_rank = 1)
      : size_(size), threads_per_rank_(threads_per_rank), slots_(static_cast<std::size_t>(size)) {
    if (size <= 0) raise<error>("thread_world: size must be positive, got ", size);
  }

  int size() const { return size_; }

  template <class F>
  void run(F&& f);

  // Ranks waiting in `other` are woken with an error when this world fails,
  // and run() resets `other` with this world (other must outlive this world).
  void link(thread_world& other) { linked_.push_back(&other); }

 private:
  friend class thread_communicator;
  struct slot {
    const void* send = nullptr;
    std::size_t bytes = 0;
    int dest = -1;
  };

  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (failed_) raise<error>("thread_world: another rank failed");
    const std::size_t gen = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != gen || failed_; });
    if (failed_ && generation_ == gen) raise<error>("thread_world: another rank failed");
  }
  void fail() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      failed_ = true;
      cv_.notify_all();
    }
    for (thread_world* w : linked_) w->fail();
  }
  void reset() {
    failed_ = false;
    arrived_ = 0;
    for (thread_world* w : linked_) w->reset();
  }

  int size_, threads_per_rank_;
  std::vector<slot> slots_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  std::size_t generation_ = 0;
  bool failed_ = false;
  std::vector<thread_world*> linked_;
};

class thread_communicator {
 public:
  static constexpr std::string_view name = "threads";

  thread_communicator(thread_world& world, int rank) : world_(&world), rank_(rank) {}

  int rank() const { return rank_; }
  int size() const { return world_->size_; }

  void all_reduce_sum(std::span<float> buf) { reduce(buf); }
  void all_reduce_sum(std::span<double> buf) { reduce(buf); }
  void send_recv(std::span<const float> send, int dest, std::span<float> recv, int src) {
    exchange(send, dest, recv, src);
  }
  void send_recv(std::span<const double> send, int dest, std::span<double> recv, int src) {
    exchange(send, dest, recv, src);
  }
  void barrier() { world_->barrier(); }

 private:
  template <class T>
  void reduce(std::span<T> buf) {
    auto& me = world_->slots_[static_cast<std::size_t>(rank_)];
    me.send = buf.data();
    me.bytes = buf.size_bytes();
    world_->barrier();
    std::vector<T> sum(buf.size(), T(0));
    for (int r = 0; r < size(); ++r) {
      const auto& s = world_->slots_[static_cast<std::size_t>(r)];
      if (s.bytes != buf.size_bytes()) {
        world_->fail();
        raise<error>("thread_communicator: all_reduce_sum lengths differ (rank ", rank_, ": ", buf.size_bytes(),
                     " bytes, rank ", r, ": ", s.bytes, ")");
      }
      const T* x = static_cast<const T*>(s.send);
      for (std::size_t i = 0; i < buf.size(); ++i) sum[i] += x[i];
    }
    world_->barrier();
    std::copy(sum.begin(), sum.end(), buf.begin());
  }

  template <class T>
  void exchange(std::span<const T> send, int dest, std::span<T> recv, int src) {
    if (dest < 0 || dest >= size() || src < 0 || src >= size()) {
      raise<error>("thread_communicator: send_recv peers ", dest, " / ", src, " outside 0..", size() - 1);
    }
    auto& me = world_->slots_[static_cast<std::size_t>(rank_)];
    me.send = send.data();
    me.bytes = send.size_bytes();
    me.dest = dest;
    world_->barrier();
    const auto& from = world_->slots_[static_cast<std::size_t>(src)];
    if (from.dest != rank_ || from.bytes != recv.size_bytes()) {
      world_->fail();
      raise<error>("thread_communicator: rank ", rank_, " expected ", recv.size_bytes(), " bytes from rank ", src,
                   ", which sent ", from.bytes, " bytes to rank ", from.dest);
    }
    std::vector<T> copy(static_cast<const T*>(from.send), static_cast<const T*>(from.send) + recv.size());
    world_->barrier();  // everyone has read; recv may alias nothing that is still being read
    std::copy(copy.begin(), copy.end(), recv.begin());
  }

  thread_world* world_;
  int rank_;
};

static_assert(Communicator<thread_communicator>);

template <class F>
void thread_world::run(F&& f) {
  std::vector<std::thread> threads;
  std::exception_ptr first;  // the first failure in time, not a follower's "another rank failed"
  std::mutex first_mutex;
  reset();
  for (int r = 0; r < size_; ++r) {
    threads.emplace_back([this, r, &f, &first, &first_mutex] {
#if defined(_OPENMP)
      omp_set_num_threads(threads_per_rank_);
#endif
      thread_communicator comm(*this, r);
      try {
        f(comm);
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(first_mutex);
          if (!first) first = std::current_exception();
        }
        fail();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

class thread_grid {
 public:
  thread_grid(int data_groups, int context_ranks, int threads_per_rank = 1)
      : context_ranks_(context_ranks), world_(data_groups * context_ranks, threads_per_rank) {
    if (data_groups <= 0 || context_ranks <= 0) {
      raise<error>("thread_grid: ", data_groups, " data groups of ", context_ranks, " context ranks");
    }
    for (int d = 0; d < data_groups; ++d) {
      groups_.push_back(std::make_unique<thread_world>(context_ranks, threads_per_rank));
      world_.link(*groups_.back());
    }
  }

  // f(thread_communicator& world, thread_communicator& context) on every rank.
  template <class F>
  void run(F&& f) {
    world_.run([&](thread_communicator& world) {
      thread_communicator context(*groups_[static_cast<std::size_t>(world.rank() / context_ranks_)],
                                  world.rank() % context_ranks_);
      f(world, context);
    });
  }

 private:
  int context_ranks_;
  thread_world world_;
  std::vector<std::unique_ptr<thread_world>> groups_;
};

}  // namespace lsk::dist
