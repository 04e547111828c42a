// Matrix products that allocate nothing once warm, by shape:
//   large enough, on a CPU with AVX2 or AVX-512: our register-blocked kernel
//   (gemm_kernel.hpp, chosen at run time);
//   a dimension ≤ 4 (a 2-D flow's first and last layers): passes over columns
//   (on the CPU's vectors too, gemm_kernel.hpp, where it has AVX2 or AVX-512);
//   otherwise Eigen's kernel. Eigen's product packs blocks of its operands into
//   scratch buffers, and takes them from malloc whenever a block exceeds
//   EIGEN_STACK_ALLOCATION_LIMIT (128 KB): every product of a 512-row batch
//   with a 128-wide layer does. Here the same kernel (Eigen's
//   general_matrix_matrix_product, with the blocking sizes Eigen itself would
//   choose, so the results are identical) runs on packing buffers that each
//   thread keeps and grows, as ours does, so a training step of fixed shapes
//   makes no heap allocation after its first.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include <Eigen/Core>

#include "eigenflow/core/gemm_kernel.hpp"
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

/// Products with a dimension of at most this many (the first and last layers of a
/// 2-D flow's conditioners) run as passes over columns, each operand read once, rather
/// than packing operands for a register tile they cannot fill; small ones (a 32-row
/// batch) stay with Eigen, whose loops cost less than ours per column.
inline constexpr Index skinny_dimension = 4;
inline bool skinny(Index m, Index n, Index k) {
  return std::min({m, n, k}) <= skinny_dimension && m * n * k >= 65536;
}

/// c (+)= alpha · op(a) · op(b) for the skinny shapes a dense layer meets (overwrite:
/// c's old content is not read); false if not one.
template <class S>
bool skinny_gemm_add(Matrix<S>& c, S alpha, const Matrix<S>& a, bool transpose_a, const Matrix<S>& b,
                     bool transpose_b, bool overwrite) {
  const Index m = c.rows(), n = c.cols(), k = transpose_a ? a.rows() : a.cols();
  if (!skinny(m, n, k)) return false;
  // The same passes on the CPU's vectors, where it has them (gemm_kernel.hpp).
  // op(b)[p, j] = b.data()[j·col_step + p·stride]:
  const Index col_step = transpose_b ? 1 : b.rows(), stride = transpose_b ? b.rows() : 1;
  const Isa isa = active_isa();
  if (!transpose_a && (k <= skinny_dimension || n <= skinny_dimension) &&
      gemm_kernel::combine_columns(isa, m, k, n, a.data(), a.rows(), b.data(), col_step, stride, alpha, c.data(), c.rows(),
                                   overwrite, static_cast<const S*>(nullptr), false))
    return true;
  if (transpose_a && !transpose_b && (m <= skinny_dimension || n <= skinny_dimension) &&
      gemm_kernel::skinny_dots(isa, m, n, k, alpha, a.data(), a.rows(), b.data(), b.rows(), c.data(), c.rows(), overwrite))
    return true;
  const auto op_b = [&](Index p, Index j) { return transpose_b ? b(j, p) : b(p, j); };
  if (!transpose_a && k <= skinny_dimension) {  // c[:, j] += alpha Σ_p op(b)[p, j] · a[:, p], column by column
    for (Index j = 0; j < n; ++j) {
      if (overwrite) c.col(j).setZero();  // while the column is in cache
      for (Index p = 0; p < k; ++p) c.col(j) += (alpha * op_b(p, j)) * a.col(p);
    }
    return true;
  }
  if (overwrite) c.setZero();  // c has at most 4 rows or columns here
  if (!transpose_a && n <= skinny_dimension) {  // the same, a's columns outermost: a is read once
    for (Index p = 0; p < k; ++p)
      for (Index j = 0; j < n; ++j) c.col(j) += (alpha * op_b(p, j)) * a.col(p);
    return true;
  }
  if (transpose_a && !transpose_b && (m <= skinny_dimension || n <= skinny_dimension)) {
    // c[i, j] += alpha · a[:, i] · b[:, j]: dot products, the skinny operand's columns staying in cache
    if (m <= skinny_dimension) {
      for (Index j = 0; j < n; ++j)
        for (Index i = 0; i < m; ++i) c(i, j) += alpha * a.col(i).dot(b.col(j));
    } else {
      for (Index i = 0; i < m; ++i)
        for (Index j = 0; j < n; ++j) c(i, j) += alpha * a.col(i).dot(b.col(j));
    }
    return true;
  }
  return false;
}

/// Runs c (+)= alpha · op(a) · op(b) on our kernel, with its epilogue (gemm_kernel.hpp:
/// overwrite, bias, relu), where the build has it and the shape is worth it; false
/// otherwise, for the caller's fallback.
template <class S>
bool kernel_gemm(Matrix<S>& c, S alpha, const Matrix<S>& a, bool transpose_a, const Matrix<S>& b, bool transpose_b,
                 bool overwrite, const S* bias, bool relu) {
  if constexpr (gemm_kernel::kernel_available<S>) {
    const Index m = c.rows(), n = c.cols(), k = transpose_a ? a.rows() : a.cols();
    const Isa isa = active_isa();
    if (gemm_kernel::worth_it<S>(isa, m, n, k))
      return gemm_kernel::gemm<S>(isa, m, n, k, alpha, {a.data(), a.rows(), transpose_a},
                                  {b.data(), b.rows(), transpose_b}, c.data(), c.rows(), {overwrite, bias, relu});
  }
  return false;
}

/// c += alpha · op(a) · op(b), op(x) = x or xᵀ; with overwrite, c = alpha · op(a) · op(b)
/// without reading c's old content. The caller has checked the shapes.
/// Large enough products run on our register-blocked kernel where the CPU has AVX2 or AVX-512,
/// skinny ones as column passes; tiny products and matrix-vector products keep
/// Eigen's own (allocation-free) paths, the rest Eigen's kernel.
template <class S>
void gemm_add(Matrix<S>& c, S alpha, const Matrix<S>& a, bool transpose_a, const Matrix<S>& b, bool transpose_b,
              bool overwrite = false) {
  const Index m = c.rows(), n = c.cols(), k = transpose_a ? a.rows() : a.cols();
  if (overwrite && (m == 0 || n == 0 || k == 0)) c.setZero();
  if (m == 0 || n == 0 || k == 0) return;
  if (kernel_gemm(c, alpha, a, transpose_a, b, transpose_b, overwrite, static_cast<const S*>(nullptr), false)) return;
  if (skinny_gemm_add(c, alpha, a, transpose_a, b, transpose_b, overwrite)) return;
  if (overwrite) c.setZero();
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

/// x = max(x, 0) in place, NaN kept (as the kernel's epilogue does); a plain loop
/// vectorises as a masked move.
template <class S>
void relu_in_place(S* x, Index size) {
  for (Index i = 0; i < size; ++i) x[i] = x[i] < S(0) ? S(0) : x[i];
}

/// c = act(op(a) · op(b) + bias), bias a 1 × n row added to every row, act the identity
/// or ReLU; c has its shape already. On the kernel, bias and ReLU are applied as each
/// tile is stored, so c is written once; otherwise c is filled with the bias first.
template <class S>
void gemm_bias(Matrix<S>& c, const Matrix<S>& a, bool transpose_a, const Matrix<S>& b, bool transpose_b,
               const Matrix<S>& bias, bool relu) {
  if (kernel_gemm(c, S(1), a, transpose_a, b, transpose_b, true, bias.data(), relu)) return;
  if (!transpose_a && a.cols() <= skinny_dimension && skinny(c.rows(), c.cols(), a.cols())) {
    // one pass per column of c, while it is in cache
    if (gemm_kernel::combine_columns(active_isa(), c.rows(), a.cols(), c.cols(), a.data(), a.rows(), b.data(),
                                     transpose_b ? Index(1) : b.rows(), transpose_b ? b.rows() : Index(1), S(1), c.data(),
                                     c.rows(), true, bias.data(), relu))
      return;
    for (Index j = 0; j < c.cols(); ++j) {
      auto column = c.col(j);
      column.setConstant(bias(0, j));
      for (Index p = 0; p < a.cols(); ++p) column += (transpose_b ? b(j, p) : b(p, j)) * a.col(p);
      if (relu) relu_in_place(column.data(), column.size());
    }
    return;
  }
  for (Index j = 0; j < c.cols(); ++j) c.col(j).setConstant(bias(0, j));
  gemm_add(c, S(1), a, transpose_a, b, transpose_b);
  if (relu) relu_in_place(c.data(), c.size());
}

}  // namespace eigenflow::detail
