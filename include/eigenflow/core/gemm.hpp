// Matrix products that allocate nothing once warm.
//
// Eigen's product packs blocks of its operands into scratch buffers, and takes
// them from malloc whenever a block exceeds EIGEN_STACK_ALLOCATION_LIMIT
// (128 KB): every product of a 512-row batch with a 128-wide layer does. Here
// the same kernel (Eigen's general_matrix_matrix_product, with the blocking
// sizes Eigen itself would choose, so the results are identical) runs on
// packing buffers that each thread keeps and grows, so a training step of
// fixed shapes makes no heap allocation after its first.
#pragma once

#include <cstddef>
#include <vector>

#include <Eigen/Core>

#include "eigenflow/core/types.hpp"

namespace eigenflow::detail {

/// Eigen's blocking for an m × n × k product, on buffers owned by the calling thread.
template <class S>
class ThreadPackingBlocking : public Eigen::internal::level3_blocking<S, S> {
 public:
  ThreadPackingBlocking(Index m, Index n, Index k) {
    this->m_mc = m;
    this->m_nc = n;
    this->m_kc = k;
    Eigen::internal::computeProductBlockingSizes<S, S, 1, Index>(this->m_kc, this->m_mc, this->m_nc, Index(1));
    this->m_blockA = grow(buffers().a, static_cast<std::size_t>(this->m_kc * this->m_mc));
    this->m_blockB = grow(buffers().b, static_cast<std::size_t>(this->m_kc * this->m_nc));
  }

 private:
  using Buffer = std::vector<S, Eigen::aligned_allocator<S>>;
  struct Buffers {
    Buffer a, b;
  };
  static Buffers& buffers() {
    thread_local Buffers per_thread;
    return per_thread;
  }
  static S* grow(Buffer& buffer, std::size_t size) {
    if (buffer.size() < size) buffer.resize(size);
    return buffer.data();
  }
};

template <int LhsOrder, int RhsOrder, class S>
void packed_gemm(Matrix<S>& c, S alpha, const Matrix<S>& a, const Matrix<S>& b, Index m, Index n, Index k) {
  ThreadPackingBlocking<S> blocking(m, n, k);
  Eigen::internal::general_matrix_matrix_product<Index, S, LhsOrder, false, S, RhsOrder, false, Eigen::ColMajor, 1>::run(
      m, n, k, a.data(), a.rows(), b.data(), b.rows(), c.data(), 1, c.rows(), alpha, blocking, nullptr);
}

/// c += alpha · op(a) · op(b), op(x) = x or xᵀ. The caller has checked the shapes.
/// Tiny products and matrix-vector products keep Eigen's own (allocation-free) paths.
template <class S>
void gemm_add(Matrix<S>& c, S alpha, const Matrix<S>& a, bool transpose_a, const Matrix<S>& b, bool transpose_b) {
  const Index m = c.rows(), n = c.cols(), k = transpose_a ? a.rows() : a.cols();
  if (m == 0 || n == 0 || k == 0) return;
  if (m + n + k < EIGEN_GEMM_TO_COEFFBASED_THRESHOLD || m == 1 || n == 1) {
    if (!transpose_a && !transpose_b) c.noalias() += alpha * a * b;
    else if (!transpose_a) c.noalias() += alpha * a * b.transpose();
    else if (!transpose_b) c.noalias() += alpha * a.transpose() * b;
    else c.noalias() += alpha * a.transpose() * b.transpose();
    return;
  }
  // A transposed column-major matrix is the same memory read as row-major.
  constexpr int col = Eigen::ColMajor, row = Eigen::RowMajor;
  if (!transpose_a && !transpose_b) packed_gemm<col, col>(c, alpha, a, b, m, n, k);
  else if (!transpose_a) packed_gemm<col, row>(c, alpha, a, b, m, n, k);
  else if (!transpose_b) packed_gemm<row, col>(c, alpha, a, b, m, n, k);
  else packed_gemm<row, row>(c, alpha, a, b, m, n, k);
}

}  // namespace eigenflow::detail
