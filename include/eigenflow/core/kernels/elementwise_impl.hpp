// The elementwise kernels' body, compiled once per instruction set:
// core/elementwise.hpp includes this file inside a `#pragma GCC target` region
// (`#pragma clang attribute` on Clang) and a namespace per ISA, with
// EIGENFLOW_KERNEL_VECTOR_BYTES set to the register width (32: AVX2, 64:
// AVX-512). It has no include guard on purpose and includes nothing.
//
// Written once on GCC's vector extensions (vector_size types: arithmetic,
// comparisons and ?: lane by lane), so the width is the only difference
// between the copies. The approximations are the ones Eigen's packets use at
// -march=native, so a path changes results by rounding only:
//   exp  x = n·ln2 + r, |r| ≤ ln2/2; e^r by Cephes' minimax polynomial (float)
//        or Padé form 1 + 2r·P(r²) / (Q(r²) − r·P(r²)) (double); e^r·2^n as
//        (e^r·2^⌊n/2⌋)·2^(n−⌊n/2⌋), so the result is exact from the smallest
//        subnormal to the largest float; x beyond the range gives 0 or inf.
//   tanh x·P(x²)/Q(x²), degrees 13/6, on |x| clamped to 7.9053 (1 − 2.4e-7),
//        and exactly ±1 beyond |x| = 9, where float tanh rounds to ±1.
//   erf  x·P(x²)/Q(x²), degrees 13/8, on |x| ≤ 4 (±1 beyond).
// NaN propagates through every kernel.

using Floats = float __attribute__((vector_size(EIGENFLOW_KERNEL_VECTOR_BYTES)));
using Doubles = double __attribute__((vector_size(EIGENFLOW_KERNEL_VECTOR_BYTES)));
using Ints = std::int32_t __attribute__((vector_size(EIGENFLOW_KERNEL_VECTOR_BYTES)));
using Longs = std::int64_t __attribute__((vector_size(EIGENFLOW_KERNEL_VECTOR_BYTES)));
using UnsignedInts = std::uint32_t __attribute__((vector_size(EIGENFLOW_KERNEL_VECTOR_BYTES)));
using UnsignedLongs = std::uint64_t __attribute__((vector_size(EIGENFLOW_KERNEL_VECTOR_BYTES)));

template <class S> struct VectorOf;
template <> struct VectorOf<float> { using V = Floats; using I = Ints; using U = UnsignedInts; };
template <> struct VectorOf<double> { using V = Doubles; using I = Longs; using U = UnsignedLongs; };

/// Lane-wise min and max that keep x's NaN (x compared, never the bound).
template <class V, class S>
inline V clamp(V x, S lo, S hi) {
  x = x < lo ? lo : x;
  return x > hi ? hi : x;
}

/// y·2^n for integer-valued n (as floating point) within [−2·(bias−1), 2·bias]: y times two exact
/// power-of-two factors, one after the other (2^n itself may overflow where y·2^n does not).
template <class V, class S>
inline V scale_by_power_of_two(V y, V n) {
  using I = typename VectorOf<S>::I;
  using U = typename VectorOf<S>::U;  // shifted unsigned: no lane is ever a negative left operand
  constexpr int mantissa = std::is_same_v<S, float> ? 23 : 52, bias = std::is_same_v<S, float> ? 127 : 1023;
  const I k = __builtin_convertvector(n, I), half = k >> 1;  // half = ⌊k/2⌋
  const V low = (V)((U)(half + bias) << mantissa), high = (V)((U)(k - half + bias) << mantissa);
  return (y * low) * high;
}

inline Floats exp(Floats x) {
  const Floats c = clamp(x, -104.0f, 89.0f);
  const Floats rounded = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // to nearest: ± 1.5·2^23
  const Floats r = (c - rounded * 0.693359375f) + rounded * 2.12194440e-4f;        // c − n·ln2, ln2 in two parts
  Floats p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  Floats y = scale_by_power_of_two<Floats, float>(p * r * r + r + 1.0f, rounded);
  y = x > 88.72283935546875f ? __builtin_inff() : y;
  return x < -103.972084045410f ? 0.0f : y;
}

inline Doubles exp(Doubles x) {
  const Doubles c = clamp(x, -746.0, 710.0);
  const Doubles rounded = (c * 1.4426950408889634074 + 6755399441055744.0) - 6755399441055744.0;  // 1.5·2^52
  const Doubles r = (c - rounded * 6.93145751953125e-1) - rounded * 1.42860682030941723212e-6;
  const Doubles r2 = r * r;
  const Doubles p = r * ((1.26177193074810590878e-4 * r2 + 3.02994407707441961300e-2) * r2 + 9.99999999999999999910e-1);
  const Doubles q = ((3.00198505138664455042e-6 * r2 + 2.52448340349684104192e-3) * r2 + 2.27265548208155028766e-1) * r2 +
                    2.00000000000000000009e0;
  Doubles y = scale_by_power_of_two<Doubles, double>(1.0 + 2.0 * p / (q - p), rounded);
  y = x > 709.782712893383973 ? __builtin_inf() : y;
  return x < -745.133219101941108 ? 0.0 : y;
}

inline Floats tanh(Floats x) {
  const Floats c = clamp(x, -7.90531110763549805f, 7.90531110763549805f), c2 = c * c;
  Floats p = -2.76076847742355e-16f * c2 + 2.00018790482477e-13f;
  p = p * c2 + -8.60467152213735e-11f;
  p = p * c2 + 5.12229709037114e-08f;
  p = p * c2 + 1.48572235717979e-05f;
  p = p * c2 + 6.37261928875436e-04f;
  p = p * c2 + 4.89352455891786e-03f;
  Floats q = 1.19825839466702e-06f * c2 + 1.18534705686654e-04f;
  q = q * c2 + 2.26843463243900e-03f;
  q = q * c2 + 4.89352518554385e-03f;
  const Floats y = c * p / q;  // 1 − 2.4e-7 at the clamp; tanh rounds to ±1 in float beyond |x| ≈ 8.7
  return x > 9.0f ? 1.0f : (x < -9.0f ? -1.0f : y);
}

inline Floats erf(Floats x) {
  const Floats c = clamp(x, -4.0f, 4.0f), c2 = c * c;
  Floats p = -2.72614225801306e-10f * c2 + 2.77068142495902e-08f;
  p = p * c2 + -2.10102402082508e-06f;
  p = p * c2 + -5.69250639462346e-05f;
  p = p * c2 + -7.34990630326855e-04f;
  p = p * c2 + -2.95459980854025e-03f;
  p = p * c2 + -1.60960333262415e-02f;
  Floats q = -1.45660718464996e-05f * c2 + -2.13374055278905e-04f;
  q = q * c2 + -1.68282697438203e-03f;
  q = q * c2 + -7.37332916720468e-03f;
  q = q * c2 + -1.42647390514189e-02f;
  return c * p / q;
}

/// y = f(x) over n values (y may be x): whole vectors, then the tail through a zero-padded one.
template <class S, class F>
void map(const S* x, S* y, Index n) {
  using V = typename VectorOf<S>::V;
  constexpr Index lanes = sizeof(V) / sizeof(S);
  Index i = 0;
  for (; i + lanes <= n; i += lanes) {
    V v;
    __builtin_memcpy(&v, x + i, sizeof v);
    v = F::value(v);
    __builtin_memcpy(y + i, &v, sizeof v);
  }
  if (i == n) return;
  S tail[lanes] = {};
  for (Index t = 0; t < n - i; ++t) tail[t] = x[i + t];
  V v;
  __builtin_memcpy(&v, tail, sizeof v);
  v = F::value(v);
  __builtin_memcpy(tail, &v, sizeof v);
  for (Index t = 0; t < n - i; ++t) y[i + t] = tail[t];
}

/// dx += dy · f'(x) over n values, as map does.
template <class S, class F>
void accumulate_derivative(const S* x, const S* dy, S* dx, Index n) {
  using V = typename VectorOf<S>::V;
  constexpr Index lanes = sizeof(V) / sizeof(S);
  Index i = 0;
  V vx, vdy, vdx;
  for (; i + lanes <= n; i += lanes) {
    __builtin_memcpy(&vx, x + i, sizeof vx);
    __builtin_memcpy(&vdy, dy + i, sizeof vdy);
    __builtin_memcpy(&vdx, dx + i, sizeof vdx);
    vdx += vdy * F::derivative(vx);
    __builtin_memcpy(dx + i, &vdx, sizeof vdx);
  }
  if (i == n) return;
  S tails[3][lanes] = {};
  for (Index t = 0; t < n - i; ++t) tails[0][t] = x[i + t], tails[1][t] = dy[i + t], tails[2][t] = dx[i + t];
  __builtin_memcpy(&vx, tails[0], sizeof vx);
  __builtin_memcpy(&vdy, tails[1], sizeof vdy);
  __builtin_memcpy(&vdx, tails[2], sizeof vdx);
  vdx += vdy * F::derivative(vx);
  __builtin_memcpy(tails[2], &vdx, sizeof vdx);
  for (Index t = 0; t < n - i; ++t) dx[i + t] = tails[2][t];
}

struct ExpKernel {
  template <class V> static V value(V x) { return exp(x); }
};
struct TanhKernel {
  static Floats value(Floats x) { return tanh(x); }
};
/// x·Φ(x) = x/2 · (1 + erf(x/√2));  derivative Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
struct GeluKernel {
  static Floats value(Floats x) { return 0.5f * x * (1.0f + erf(x * 0.70710678118654752440f)); }
  static Floats derivative(Floats x) {
    return 0.5f * (1.0f + erf(x * 0.70710678118654752440f)) + x * (0.39894228040143267794f * exp(-0.5f * x * x));
  }
};
