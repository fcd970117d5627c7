// lsk/dist/mpi_communicator.hpp: a Communicator over MPI, for CPU processes on
// one or several hosts (Debian: libopenmpi-dev + openmpi-bin). Needs <mpi.h>;
// CMake target lsk::mpi (defined when find_package(MPI) succeeds).
//
//   lsk::dist::mpi_environment env(argc, argv);   // MPI_Init_thread / MPI_Finalize
//   lsk::dist::mpi_communicator comm;              // MPI_COMM_WORLD (duplicated)
//   ... ring_forward(comm, ...) / all_reduce_gradients(comm, grads) ...
// Run: mpirun -np 2 ./program   (as root add --allow-run-as-root; on a 2-core
// machine with OpenMP inside each rank set OMP_NUM_THREADS=1).
// all_reduce_sum: MPI_Allreduce(MPI_IN_PLACE, MPI_SUM); Open MPI's reduction
// gives every rank the same bits. send_recv: MPI_Sendrecv (pairwise, blocking).
// Buffers longer than INT_MAX elements go in INT_MAX pieces. MPI errors are
// returned (MPI_ERRORS_RETURN) and thrown as lsk::error with MPI's message.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "lsk/core/error.hpp"
#include "lsk/dist/communicator.hpp"

namespace lsk::dist {

namespace mpi_detail {
inline void check(int code, std::string_view what) {
  if (code == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, message, &len);
  raise<error>("mpi: ", what, " failed: ", std::string(message, static_cast<std::size_t>(len)));
}
template <class T>
MPI_Datatype type_of();
template <>
inline MPI_Datatype type_of<float>() {
  return MPI_FLOAT;
}
template <>
inline MPI_Datatype type_of<double>() {
  return MPI_DOUBLE;
}
}  // namespace mpi_detail

// Initialises MPI unless already initialised, and finalises it on destruction.
// Thread support: MPI_THREAD_FUNNELED by default (only the main thread calls
// MPI); mpi_threads::multiple asks for MPI_THREAD_MULTIPLE, which the trainer's
// overlapped gradient reduction needs (a worker thread all-reduces while the
// main thread runs ring attention); multiple_threads() says whether MPI gave it.
enum class mpi_threads { funneled, multiple };

class mpi_environment {
 public:
  explicit mpi_environment(int& argc, char**& argv, mpi_threads threads = mpi_threads::funneled) {
    init(&argc, &argv, threads);
  }
  // Without the program's arguments (MPI-2 allows null).
  explicit mpi_environment(mpi_threads threads = mpi_threads::funneled) { init(nullptr, nullptr, threads); }
  mpi_environment(const mpi_environment&) = delete;
  mpi_environment& operator=(const mpi_environment&) = delete;
  ~mpi_environment() {
    if (owns_) MPI_Finalize();
  }

  bool multiple_threads() const { return provided_ >= MPI_THREAD_MULTIPLE; }

 private:
  void init(int* argc, char*** argv, mpi_threads threads) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      const int wanted = threads == mpi_threads::multiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED;
      mpi_detail::check(MPI_Init_thread(argc, argv, wanted, &provided_), "MPI_Init_thread");
      owns_ = true;
    } else {
      MPI_Query_thread(&provided_);
    }
  }

  bool owns_ = false;
  int provided_ = MPI_THREAD_SINGLE;
};

class mpi_communicator {
 public:
  static constexpr std::string_view name = "mpi";

  // Duplicates `comm` (MPI_COMM_WORLD by default) so lsk's messages never mix
  // with the application's.
  explicit mpi_communicator(MPI_Comm comm = MPI_COMM_WORLD) {
    mpi_detail::check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    mpi_detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    mpi_detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  mpi_communicator(const mpi_communicator&) = delete;
  mpi_communicator& operator=(const mpi_communicator&) = delete;
  mpi_communicator(mpi_communicator&& other) noexcept
      : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_) {}
  mpi_communicator& operator=(mpi_communicator&&) = delete;
  ~mpi_communicator() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm native() const { return comm_; }

  // The ranks that pass the same `color`, ordered by `key` (MPI_Comm_split;
  // collective over this communicator). E.g. context-parallel groups of P
  // consecutive ranks: split(rank() / P, rank()).
  mpi_communicator split(int color, int key) const {
    MPI_Comm part = MPI_COMM_NULL;
    mpi_detail::check(MPI_Comm_split(comm_, color, key, &part), "MPI_Comm_split");
    mpi_communicator out(part);
    MPI_Comm_free(&part);  // `out` holds its own duplicate
    return out;
  }

  void all_reduce_sum(std::span<float> buf) { reduce(buf); }
  void all_reduce_sum(std::span<double> buf) { reduce(buf); }
  void send_recv(std::span<const float> send, int dest, std::span<float> recv, int src) {
    exchange(send, dest, recv, src);
  }
  void send_recv(std::span<const double> send, int dest, std::span<double> recv, int src) {
    exchange(send, dest, recv, src);
  }
  void barrier() { mpi_detail::check(MPI_Barrier(comm_), "MPI_Barrier"); }

 private:
  static constexpr std::size_t piece = static_cast<std::size_t>(INT_MAX);

  template <class T>
  void reduce(std::span<T> buf) {
    for (std::size_t i = 0; i < buf.size(); i += piece) {
      const auto n = static_cast<int>(std::min(piece, buf.size() - i));
      mpi_detail::check(MPI_Allreduce(MPI_IN_PLACE, buf.data() + i, n, mpi_detail::type_of<T>(), MPI_SUM, comm_),
                        "MPI_Allreduce");
    }
  }

  template <class T>
  void exchange(std::span<const T> send, int dest, std::span<T> recv, int src) {
    constexpr int tag = 0x15c;
    // Both sides split at the same piece boundaries (lengths match by
    // requirement 3; a mismatch surfaces as MPI_ERR_TRUNCATE).
    const std::size_t total = std::max(send.size(), recv.size());
    std::size_t i = 0;
    do {
      const std::size_t ns = i < send.size() ? std::min(piece, send.size() - i) : 0;
      const std::size_t nr = i < recv.size() ? std::min(piece, recv.size() - i) : 0;
      MPI_Status status;
      mpi_detail::check(MPI_Sendrecv(send.data() + std::min(i, send.size()), static_cast<int>(ns),
                                     mpi_detail::type_of<T>(), dest, tag, recv.data() + std::min(i, recv.size()),
                                     static_cast<int>(nr), mpi_detail::type_of<T>(), src, tag, comm_, &status),
                        "MPI_Sendrecv");
      i += piece;
    } while (i < total);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

static_assert(Communicator<mpi_communicator>);

}  // namespace lsk::dist
