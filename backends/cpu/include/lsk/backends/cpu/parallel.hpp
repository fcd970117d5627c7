// lsk/backends/cpu/parallel.hpp: OpenMP helpers for the cpu backend. Without
// OpenMP everything runs on one thread with the same results.
#pragma once

#include <cstdint>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace lsk::backends::cpu_detail {

// Work below this many elements runs on one thread: a parallel region costs
// a few microseconds, more than the work itself.
inline constexpr std::int64_t parallel_threshold = 1 << 15;

inline int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Whether the caller already runs inside an OpenMP parallel region.
inline bool in_parallel() {
#if defined(_OPENMP)
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

inline void set_threads(int n) {
#if defined(_OPENMP)
  if (n > 0) omp_set_num_threads(n);
#else
  (void)n;
#endif
}

// Calls body(r) for r in [0, rows), split over threads when rows * cost is large.
template <class Body>
void parallel_rows(std::int64_t rows, std::int64_t cost_per_row, Body&& body) {
#if defined(_OPENMP)
  const bool go_parallel = rows > 1 && rows * cost_per_row >= parallel_threshold;
#pragma omp parallel for schedule(static) if (go_parallel)
  for (std::int64_t r = 0; r < rows; ++r) body(r);
#else
  (void)cost_per_row;
  for (std::int64_t r = 0; r < rows; ++r) body(r);
#endif
}

}  // namespace lsk::backends::cpu_detail
