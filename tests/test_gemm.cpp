// The matrix products under every dense layer: c += alpha · op(a) · op(b).
// Every check runs on every kernel path this CPU supports (core/isa.hpp:
// Eigen's portable code, our kernel on AVX2 and on AVX-512), so the paths
// face the same checks.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include "test_support.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>
#include <vector>

namespace {

using namespace eigenflow;

template <class S>
using Wide = std::conditional_t<std::is_same_v<S, float>, double, long double>;

struct Shape {
  Index m, n, k;
};

// Edge tiles in every direction: below, at and above the register tile (32 float or
// 16 double rows × 12 columns), the row block (a quarter of the L2: from 96 up to 960 float
// rows; 1100 rows cross it on every machine), the depth slice (256); the
// skinny passes (a dimension ≤ 4); and the shapes of a training step.
const std::vector<Shape> shapes = {{1, 1, 1},     {7, 5, 3},      {33, 13, 17},   {64, 64, 64},  {100, 37, 45},
                                   {97, 25, 513}, {257, 131, 300}, {3000, 2, 128}, {300, 128, 2}, {129, 128, 1500},
                                   {16, 12, 16},  {32, 12, 257},   {2, 128, 300},  {128, 3, 300},  {1100, 29, 270}};

template <class S>
Matrix<S> random_matrix(Index rows, Index cols, unsigned seed) {
  std::srand(seed);
  return Matrix<S>::Random(rows, cols);
}

template <class W, class S>
Eigen::Matrix<W, Eigen::Dynamic, Eigen::Dynamic> widened_op(const Matrix<S>& x, bool transpose) {
  using MatrixW = Eigen::Matrix<W, Eigen::Dynamic, Eigen::Dynamic>;
  return transpose ? MatrixW(x.template cast<W>().transpose()) : MatrixW(x.template cast<W>());
}

/// Entries of c farther from the reference than gamma · magnitude (NaN counts as far).
template <class S, class MatrixW, class W>
Index entries_outside(const Matrix<S>& c, const MatrixW& reference, const MatrixW& magnitude, W gamma) {
  Index outside = 0;
  for (Index j = 0; j < c.cols(); ++j)
    for (Index i = 0; i < c.rows(); ++i)
      if (!(std::abs(W(c(i, j)) - reference(i, j)) <= gamma * magnitude(i, j))) ++outside;
  return outside;
}

/// One shape and transposition: the operands and their wider-precision product
/// op(a)·op(b) and magnitude |op(a)|·|op(b)|, computed once and checked on every path
/// (the long-double products were most of this file's run time).
template <class S>
struct ProductCase {
  using W = Wide<S>;
  using MatrixW = Eigen::Matrix<W, Eigen::Dynamic, Eigen::Dynamic>;
  Matrix<S> a, b;
  bool transpose_a, transpose_b;
  MatrixW product, magnitude;
  ProductCase(const Shape& shape, bool ta, bool tb, unsigned seed)
      : a(ta ? random_matrix<S>(shape.k, shape.m, seed) : random_matrix<S>(shape.m, shape.k, seed)),
        b(tb ? random_matrix<S>(shape.n, shape.k, seed + 1) : random_matrix<S>(shape.k, shape.n, seed + 1)),
        transpose_a(ta),
        transpose_b(tb) {
    const MatrixW op_a = widened_op<W>(a, ta), op_b = widened_op<W>(b, tb);
    product = op_a * op_b;
    magnitude = op_a.cwiseAbs() * op_b.cwiseAbs();
  }
  /// The bound of a k-term sum: k·eps, with one more term for what is added to it.
  static W gamma(const Shape& shape) { return W(shape.k + 1) * W(std::numeric_limits<S>::epsilon()); }
};

/// Checks c0 + alpha · op(a) · op(b), formed by `product` on every path and for two alphas,
/// against the wider-precision reference: each entry within the classic bound
/// k·eps·(|c0| + |alpha|·|op(a)|·|op(b)|) of a k-term sum.
template <class S, class Product>
void check_all_shapes(const Product& product, const std::vector<Isa>& isas = test::supported_isas()) {
  using W = Wide<S>;
  for (const Shape& shape : shapes)
    for (const bool transpose_a : {false, true})
      for (const bool transpose_b : {false, true}) {
        const ProductCase<S> operands(shape, transpose_a, transpose_b, 1);
        const Matrix<S> c0 = random_matrix<S>(shape.m, shape.n, 3);
        for (const Isa isa : isas) {
          const test::ScopedIsa path(isa);
          for (const S alpha : {S(1), S(-0.5)}) {
            Matrix<S> c = c0;
            product(c, alpha, operands.a, transpose_a, operands.b, transpose_b);
            const auto reference = (c0.template cast<W>() + W(alpha) * operands.product).eval();
            const auto magnitude = (c0.template cast<W>().cwiseAbs() + std::abs(W(alpha)) * operands.magnitude).eval();
            INFO("path " << to_string(isa) << " m=" << shape.m << " n=" << shape.n << " k=" << shape.k << " op(a)="
                         << (transpose_a ? "aT" : "a") << " op(b)=" << (transpose_b ? "bT" : "b") << " alpha=" << alpha);
            CHECK(entries_outside(c, reference, magnitude, ProductCase<S>::gamma(shape)) == 0);
          }
        }
      }
}

/// Checks c = act(op(a) · op(b) + bias), formed by `affine` on a c full of NaN (its old
/// content must not be read), within the same bound; ReLU is 1-Lipschitz, so it keeps it.
template <class S, class Affine>
void check_all_bias_act(const Affine& affine, const std::vector<Isa>& isas = test::supported_isas()) {
  using W = Wide<S>;
  for (const Shape& shape : shapes)
    for (const bool transpose_a : {false, true})
      for (const bool transpose_b : {false, true}) {
        const ProductCase<S> operands(shape, transpose_a, transpose_b, 7);
        const Matrix<S> bias = random_matrix<S>(1, shape.n, 9);
        const auto affine_reference = (operands.product.rowwise() + bias.template cast<W>().row(0)).eval();
        const auto magnitude = (operands.magnitude.rowwise() + bias.template cast<W>().cwiseAbs().row(0)).eval();
        for (const Isa isa : isas) {
          const test::ScopedIsa path(isa);
          for (const bool relu : {false, true}) {
            Matrix<S> c = Matrix<S>::Constant(shape.m, shape.n, std::numeric_limits<S>::quiet_NaN());
            affine(c, operands.a, transpose_a, operands.b, transpose_b, bias, relu);
            const auto reference = relu ? affine_reference.cwiseMax(W(0)).eval() : affine_reference;
            INFO("path " << to_string(isa) << " m=" << shape.m << " n=" << shape.n << " k=" << shape.k << " op(a)="
                         << (transpose_a ? "aT" : "a") << " op(b)=" << (transpose_b ? "bT" : "b") << " relu=" << relu);
            CHECK(entries_outside(c, reference, magnitude, ProductCase<S>::gamma(shape)) == 0);
          }
        }
      }
}

template <class S>
void eigenflow_gemm_add(Matrix<S>& c, S alpha, const Matrix<S>& a, bool ta, const Matrix<S>& b, bool tb) {
  detail::gemm_add(c, alpha, a, ta, b, tb);
}

template <class S>
void eigenflow_gemm_bias(Matrix<S>& c, const Matrix<S>& a, bool ta, const Matrix<S>& b, bool tb, const Matrix<S>& bias,
                         bool relu) {
  detail::gemm_bias(c, a, ta, b, tb, bias, relu);
}

/// gemm_add with overwrite on a c full of NaN (its old content must not be read), then the
/// old content added back, for check_product's c0 + alpha · op(a) · op(b).
template <class S>
void eigenflow_gemm_overwrite(Matrix<S>& c, S alpha, const Matrix<S>& a, bool ta, const Matrix<S>& b, bool tb) {
  const Matrix<S> old = c;
  c.setConstant(std::numeric_limits<S>::quiet_NaN());
  detail::gemm_add(c, alpha, a, ta, b, tb, true);
  c += old;
}

}  // namespace

TEMPLATE_TEST_CASE("gemm_add with overwrite writes alpha · op(a) · op(b) without reading c", "[gemm]", float, double) {
  check_all_shapes<TestType>(&eigenflow_gemm_overwrite<TestType>);
}

TEMPLATE_TEST_CASE("gemm_bias adds the bias row and rectifies without reading c's old content", "[gemm]", float,
                   double) {
  check_all_bias_act<TestType>(&eigenflow_gemm_bias<TestType>);
}

TEMPLATE_TEST_CASE("A NaN stays NaN through the fused ReLU", "[gemm]", float, double) {
  using S = TestType;
  for (const Isa isa : test::supported_isas())
  for (const Index inputs : {Index(2), Index(64)}) {  // the column passes, and the kernel (or Eigen's)
    const test::ScopedIsa path(isa);
    Matrix<S> x = random_matrix<S>(700, inputs, 10);
    const Matrix<S> w = random_matrix<S>(64, inputs, 11), bias = Matrix<S>::Zero(1, 64);
    x(5, 1) = std::numeric_limits<S>::quiet_NaN();  // poisons row 5 of the product
    Matrix<S> c(700, 64);
    detail::gemm_bias(c, x, false, w, true, bias, true);
    INFO(inputs << " inputs, path " << to_string(isa));
    CHECK(c.row(5).array().isNaN().all());
    CHECK(c.topRows(5).array().isFinite().all());
  }
}

TEMPLATE_TEST_CASE("gemm_add agrees with a wider-precision product within k·eps for every shape and transpose", "[gemm]",
                   float, double) {
  check_all_shapes<TestType>(&eigenflow_gemm_add<TestType>);
}

#ifdef EIGENFLOW_DISPATCH

namespace {
/// The kernel itself on the active path (gemm_add would leave small shapes to Eigen).
template <class S>
void kernel_product(Matrix<S>& c, S alpha, const Matrix<S>& a, bool ta, const Matrix<S>& b, bool tb) {
  const Index m = c.rows(), n = c.cols(), k = ta ? a.rows() : a.cols();
  REQUIRE(detail::gemm_kernel::gemm<S>(active_isa(), m, n, k, alpha, {a.data(), a.rows(), ta}, {b.data(), b.rows(), tb},
                                       c.data(), c.rows()));
}
template <class S>
void kernel_bias(Matrix<S>& c, const Matrix<S>& a, bool ta, const Matrix<S>& b, bool tb, const Matrix<S>& bias,
                 bool relu) {
  const Index m = c.rows(), n = c.cols(), k = ta ? a.rows() : a.cols();
  REQUIRE(detail::gemm_kernel::gemm<S>(active_isa(), m, n, k, S(1), {a.data(), a.rows(), ta}, {b.data(), b.rows(), tb},
                                       c.data(), c.rows(), {true, bias.data(), relu}));
}
/// The kernel paths this CPU runs (the checks below skip the portable one: it has no kernel).
std::vector<Isa> kernel_isas() {
  std::vector<Isa> isas = test::supported_isas();
  isas.erase(isas.begin());
  return isas;
}
template <class Check>
void on_kernel_paths(const Check& check) {
  for (const Isa isa : kernel_isas()) {
    const test::ScopedIsa path(isa);
    INFO("path " << to_string(isa));
    check();
  }
}
}  // namespace

TEMPLATE_TEST_CASE("The kernel's epilogue: bias on the first slice of k, ReLU after the last", "[gemm]", float,
                   double) {
  check_all_bias_act<TestType>(&kernel_bias<TestType>, kernel_isas());
}

TEMPLATE_TEST_CASE("The register-blocked kernel itself, on shapes gemm_add would leave to Eigen too", "[gemm]", float,
                   double) {
  check_all_shapes<TestType>(&kernel_product<TestType>, kernel_isas());
}

TEMPLATE_TEST_CASE("A row's result does not depend on where the batch is split", "[gemm]", float, double) {
  // Row-chunked inference and threads over the batch rely on this: rows 37..236
  // computed alone equal the same rows computed within the full product, bit for bit.
  using S = TestType;
  on_kernel_paths([] {
    const Matrix<S> x = random_matrix<S>(300, 128, 4), w = random_matrix<S>(96, 128, 5);
    Matrix<S> whole = Matrix<S>::Zero(300, 96), part = Matrix<S>::Zero(200, 96);
    const Matrix<S> rows = x.middleRows(37, 200);
    kernel_product<S>(whole, S(1), x, false, w, true);
    kernel_product<S>(part, S(1), rows, false, w, true);
    CHECK((whole.middleRows(37, 200).array() == part.array()).all());
  });
}

TEMPLATE_TEST_CASE("Packing interleaves streams exactly, zero-padding the missing ones", "[gemm]", float, double) {
  using S = TestType;
  const Matrix<S> source = random_matrix<S>(53, 40, 6);  // 40 streams of 53 values (columns), stride 53
  using Interleave = void (*)(const S*, Index, Index, Index, Index, S*);
  const std::vector<std::pair<Isa, Interleave>> paths = {{Isa::avx2, &detail::gemm_kernel::avx2::interleave<S>},
                                                         {Isa::avx512, &detail::gemm_kernel::avx512::interleave<S>}};
  for (const auto& [isa, interleave] : paths) {
    if (!isa_supported(isa)) continue;
    for (const Index width : {Index(6), Index(12), Index(16), Index(32)})
      for (const Index valid : {Index(1), Index(5), width})
        for (const Index depth : {Index(1), Index(15), Index(16), Index(37), Index(53)}) {
          std::vector<S> out(static_cast<std::size_t>(width * depth), S(-1));
          interleave(source.data(), source.rows(), valid, width, depth, out.data());
          Index wrong = 0;
          for (Index p = 0; p < depth; ++p)
            for (Index r = 0; r < width; ++r)
              if (out[static_cast<std::size_t>(p * width + r)] != (r < valid ? source(p, r) : S(0))) ++wrong;
          INFO("path " << to_string(isa) << " width " << width << " valid " << valid << " depth " << depth);
          CHECK(wrong == 0);
        }
  }
}

TEST_CASE("The products' path is chosen from the CPU and can be forced", "[gemm]") {
  // The widest supported path is the default; forcing one the CPU lacks is an error, not a fallback.
  CHECK(best_isa() == test::supported_isas().back());
  CHECK(parse_isa("avx2") == Isa::avx2);
  CHECK_THROWS_AS(parse_isa("sse4"), ValueError);
  for (const Isa isa : {Isa::portable, Isa::avx2, Isa::avx512}) {
    const test::ScopedIsa keep(active_isa());
    if (isa_supported(isa)) {
      set_isa(isa);
      CHECK(active_isa() == isa);
    } else {
      CHECK_THROWS_AS(set_isa(isa), ValueError);
    }
  }
}

#endif
