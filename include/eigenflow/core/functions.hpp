// Elementwise scalar functions with their derivatives: the single definition
// of each activation and transcendental that both the plain (inference) path
// and the taped (training) path apply.
//
// Each functor has value(x) and derivative(x, y) where y = value(x); the
// derivative may use y to save a second transcendental (tanh' = 1 - y^2).
// The transcendental ones also have array_value / array_derivative: the same
// formulas on whole Eigen arrays, which Eigen evaluates with SIMD packets
// (its exp, tanh and float erf); elementwise ops use them when present, and
// the scalar forms stay as their reference (test_ops compares the two).
// Exp, Tanh and Gelu also name a SIMD kernel (core/elementwise.hpp) that runs
// them on AVX2 or AVX-512 when the CPU has it, whatever the build's flags:
// evaluate() and accumulate_derivative() below pick kernel, array form or
// scalar form, and both the plain and the taped path call them.
#pragma once

#include <cmath>
#include <type_traits>
#include <utility>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include "eigenflow/core/elementwise.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow::fn {

struct Identity {
  template <class S> static S value(S x) { return x; }
  template <class S> static S derivative(S, S) { return S(1); }
};

struct Exp {
  static constexpr detail::elementwise::Map kernel = detail::elementwise::Map::exp;
  template <class S> static S value(S x) { return std::exp(x); }
  template <class S> static S derivative(S, S y) { return y; }
  template <class A> static auto array_value(const A& x) { return x.exp(); }
  template <class A, class B> static const B& array_derivative(const A&, const B& y) { return y; }
};

struct Log {
  template <class S> static S value(S x) { return std::log(x); }
  template <class S> static S derivative(S x, S) { return S(1) / x; }
};

struct Log1p {
  template <class S> static S value(S x) { return std::log1p(x); }
  template <class S> static S derivative(S x, S) { return S(1) / (S(1) + x); }
};

struct Sqrt {
  template <class S> static S value(S x) { return std::sqrt(x); }
  template <class S> static S derivative(S, S y) { return S(0.5) / y; }
};

struct Square {
  template <class S> static S value(S x) { return x * x; }
  template <class S> static S derivative(S x, S) { return S(2) * x; }
};

struct Abs {
  template <class S> static S value(S x) { return std::abs(x); }
  template <class S> static S derivative(S x, S) { return x > S(0) ? S(1) : (x < S(0) ? S(-1) : S(0)); }
};

struct Sin {
  template <class S> static S value(S x) { return std::sin(x); }
  template <class S> static S derivative(S x, S) { return std::cos(x); }
};

struct Cos {
  template <class S> static S value(S x) { return std::cos(x); }
  template <class S> static S derivative(S x, S) { return -std::sin(x); }
};

struct Tanh {
  static constexpr detail::elementwise::Map kernel = detail::elementwise::Map::tanh;
  template <class S> static S value(S x) { return std::tanh(x); }
  template <class S> static S derivative(S, S y) { return S(1) - y * y; }
  template <class A> static auto array_value(const A& x) { return x.tanh(); }
  template <class A, class B> static auto array_derivative(const A&, const B& y) { return typename B::Scalar(1) - y.square(); }
};

/// sigmoid(x) = 1 / (1 + e^-x), evaluated without overflow for either sign.
struct Sigmoid {
  template <class S> static S value(S x) {
    if (x >= S(0)) return S(1) / (S(1) + std::exp(-x));
    const S e = std::exp(x);
    return e / (S(1) + e);
  }
  template <class S> static S derivative(S, S y) { return y * (S(1) - y); }
};

/// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|)  (no overflow, no cancellation).
struct Softplus {
  template <class S> static S value(S x) { return std::max(x, S(0)) + std::log1p(std::exp(-std::abs(x))); }
  template <class S> static S derivative(S x, S) { return Sigmoid::value(x); }
};

/// max(x, 0), but NaN stays NaN (a comparison-based max would hide it from the finiteness checks).
struct Relu {
  template <class S> static S value(S x) { return x <= S(0) ? S(0) : x; }
  template <class S> static S derivative(S x, S) { return x > S(0) ? S(1) : S(0); }
};

/// Leaky ReLU with the fixed slope 0.01 used inside conditioner MLPs (PyTorch's default).
struct LeakyRelu {
  template <class S> static S value(S x) { return x > S(0) ? x : S(0.01) * x; }
  template <class S> static S derivative(S x, S) { return x > S(0) ? S(1) : S(0.01); }
};

/// elu(x) = x for x > 0, e^x - 1 otherwise (expm1 keeps precision near 0).
struct Elu {
  template <class S> static S value(S x) { return x > S(0) ? x : std::expm1(x); }
  template <class S> static S derivative(S x, S y) { return x > S(0) ? S(1) : y + S(1); }
};

/// silu(x) = x * sigmoid(x);  silu' = s + x s (1 - s).
struct Silu {
  template <class S> static S value(S x) { return x * Sigmoid::value(x); }
  template <class S> static S derivative(S x, S) {
    const S s = Sigmoid::value(x);
    return s + x * s * (S(1) - s);
  }
};

/// Exact GELU: x * Phi(x) = x/2 (1 + erf(x / sqrt 2));  gelu' = Phi(x) + x phi(x).
struct Gelu {
  static constexpr detail::elementwise::Map kernel = detail::elementwise::Map::gelu;
  static constexpr bool derivative_kernel = true;  // gelu' needs erf and exp: worth a kernel too
  template <class S> static S value(S x) {
    return S(0.5) * x * (S(1) + std::erf(x * S(0.70710678118654752440)));
  }
  template <class S> static S derivative(S x, S) {
    const S cdf = S(0.5) * (S(1) + std::erf(x * S(0.70710678118654752440)));
    const S pdf = S(0.39894228040143267794) * std::exp(S(-0.5) * x * x);
    return cdf + x * pdf;
  }
  template <class A> static auto array_value(const A& x) {
    using S = typename A::Scalar;
    return S(0.5) * x * (S(1) + (x * S(0.70710678118654752440)).erf());
  }
  template <class A, class B> static auto array_derivative(const A& x, const B&) {
    using S = typename A::Scalar;
    return S(0.5) * (S(1) + (x * S(0.70710678118654752440)).erf()) +
           x * (S(0.39894228040143267794) * (S(-0.5) * x.square()).exp());
  }
};

/// Tanh-approximated GELU (PyTorch approximate='tanh'):
/// x/2 (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi).
struct GeluTanh {
  template <class S> static S value(S x) {
    return S(0.5) * x * (S(1) + std::tanh(inner(x)));
  }
  template <class S> static S derivative(S x, S) {
    const S t = std::tanh(inner(x));
    const S d_inner = S(0.79788456080286535588) * (S(1) + S(3 * 0.044715) * x * x);
    return S(0.5) * (S(1) + t) + S(0.5) * x * (S(1) - t * t) * d_inner;
  }

 private:
  template <class S> static S inner(S x) { return S(0.79788456080286535588) * (x + S(0.044715) * x * x * x); }
};

/// Heaviside step of -x (1 where x < 0): counts negative entries, derivative 0.
struct IsNegative {
  template <class S> static S value(S x) { return x < S(0) ? S(1) : S(0); }
  template <class S> static S derivative(S, S) { return S(0); }
};

/// True when F has the array forms.
template <class F, class = void>
struct has_array_form : std::false_type {};
template <class F>
struct has_array_form<F, std::void_t<decltype(F::array_value(std::declval<const Eigen::ArrayXXf&>()))>> : std::true_type {};

template <class F, class = void>
struct has_kernel_form : std::false_type {};
template <class F>
struct has_kernel_form<F, std::void_t<decltype(F::kernel)>> : std::true_type {};

template <class F, class = void>
struct has_derivative_kernel : std::false_type {};
template <class F>
struct has_derivative_kernel<F, std::void_t<decltype(F::derivative_kernel)>> : std::true_type {};

/// y = F(x) elementwise (y is resized; it may be x): the SIMD kernel if the active
/// path has one, else Eigen's array form, else the scalar form.
template <class F, class S>
void evaluate(const Matrix<S>& x, Matrix<S>& y) {
  if constexpr (has_kernel_form<F>::value) {
    if (detail::elementwise::has_kernel<S>(F::kernel)) {
      y.resize(x.rows(), x.cols());
      detail::elementwise::apply(F::kernel, x.data(), y.data(), x.size());
      return;
    }
  }
  if constexpr (has_array_form<F>::value) y = F::array_value(x.array()).matrix();
  else y = x.unaryExpr([](S v) { return F::value(v); });
}

/// dx += dy ⊙ F'(x, y) elementwise, y = F(x); the same choice of forms as evaluate.
template <class F, class S>
void accumulate_derivative(const Matrix<S>& x, const Matrix<S>& y, const Matrix<S>& dy, Matrix<S>& dx) {
  if constexpr (has_derivative_kernel<F>::value) {
    if (detail::elementwise::has_kernel<S>(F::kernel)) {
      detail::elementwise::accumulate_gelu_derivative(x.data(), dy.data(), dx.data(), x.size());
      return;
    }
  }
  if constexpr (has_array_form<F>::value) dx.array() += dy.array() * F::array_derivative(x.array(), y.array());
  else dx.array() += dy.array() * x.binaryExpr(y, [](S a, S b) { return F::derivative(a, b); }).array();
}

}  // namespace eigenflow::fn
