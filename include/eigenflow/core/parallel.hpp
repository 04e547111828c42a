// Threads over rows. The library stays free of a threading dependency: when the
// including program is compiled with OpenMP (-fopenmp), independent row chunks
// run on OpenMP's threads; without it they run one after another. Each chunk's
// result depends only on its rows, so the answer is the same either way.
#pragma once

#include <exception>

#include "eigenflow/core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace eigenflow {

/// Threads the library may use: OpenMP's current maximum (omp_set_num_threads,
/// OMP_NUM_THREADS), or 1 when compiled without OpenMP.
inline int available_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

namespace detail {

/// Calls task(chunk) for chunk = 0 … chunks − 1 on up to `threads` threads.
/// The first exception thrown by any task is rethrown here, after all have ended
/// (an exception must not leave an OpenMP region).
template <class Task>
void parallel_for(Index chunks, int threads, const Task& task) {
  if (chunks <= 0) return;
  if (threads <= 1 || chunks == 1) {
    for (Index c = 0; c < chunks; ++c) task(c);
    return;
  }
  std::exception_ptr failure;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (Index c = 0; c < chunks; ++c) {
    try {
      task(c);
    } catch (...) {
#ifdef _OPENMP
#pragma omp critical(eigenflow_parallel_for_failure)
#endif
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

/// Rows per chunk for row-independent work on n rows: large enough for
/// efficient matrix products, small enough that a chunk's intermediates stay in cache.
inline constexpr Index row_chunk = 2048;

inline Index chunk_count(Index rows, Index chunk = row_chunk) { return (rows + chunk - 1) / chunk; }

/// Rows first, …, first + count − 1 of m. A matrix with no columns (the empty context of an
/// unconditional flow) has a null data pointer, which Eigen's middleRows would offset:
/// undefined behaviour, which clang's UBSan stops on.
template <class S>
Matrix<S> middle_rows(const Matrix<S>& m, Index first, Index count) {
  if (m.cols() == 0) return Matrix<S>(count, 0);
  return m.middleRows(first, count);
}

}  // namespace detail
}  // namespace eigenflow
