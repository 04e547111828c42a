// The GEMM kernel's body, compiled once per instruction set: core/gemm_kernel.hpp
// includes this file inside a `#pragma GCC target` region and a namespace per
// ISA, with EIGENFLOW_KERNEL_ISA set to 1 (AVX2 + FMA) or 2 (AVX-512F). It has
// no include guard on purpose and includes nothing: its includer has (<cmath> for std::fma).

/// One SIMD register of S and the handful of operations the micro-kernel needs.
template <class S>
struct Simd;

#if EIGENFLOW_KERNEL_ISA == 2  // AVX-512F: 32 registers of 16 floats
template <>
struct Simd<float> {
  using V = __m512;
  static constexpr int lanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set(float x) { return _mm512_set1_ps(x); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V max(V a, V b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }  // b where either is NaN; maskz: see transpose16
  static float sum(V v) {  // not _mm512_reduce_add_ps: GCC 12 flags its undefined start (bug 105593)
    float lanes_of[16];
    _mm512_storeu_ps(lanes_of, v);
    float total = 0;
    for (const float x : lanes_of) total += x;
    return total;
  }
  static V where_positive(V y, V x) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, zero(), _CMP_GT_OQ), x); }  // y > 0 ? x : 0
};
template <>
struct Simd<double> {
  using V = __m512d;
  static constexpr int lanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set(double x) { return _mm512_set1_pd(x); }
  static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V max(V a, V b) { return _mm512_maskz_max_pd(0xFF, a, b); }  // b where either is NaN; maskz: see transpose16
  static double sum(V v) {
    double lanes_of[8];
    _mm512_storeu_pd(lanes_of, v);
    double total = 0;
    for (const double x : lanes_of) total += x;
    return total;
  }
  static V where_positive(V y, V x) { return _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(y, zero(), _CMP_GT_OQ), x); }
};
constexpr int columns_per_tile = 12;  // NR: 2 × 12 accumulators + 2 loads + 1 broadcast ≤ 32 registers
#else  // AVX2 + FMA: 16 registers of 8 floats
template <>
struct Simd<float> {
  using V = __m256;
  static constexpr int lanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set(float x) { return _mm256_set1_ps(x); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }  // b where either is NaN
  static float sum(V v) {
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(half, _mm_shuffle_ps(half, half, 1)));
  }
  static V where_positive(V y, V x) { return _mm256_and_ps(_mm256_cmp_ps(y, zero(), _CMP_GT_OQ), x); }
};
template <>
struct Simd<double> {
  using V = __m256d;
  static constexpr int lanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set(double x) { return _mm256_set1_pd(x); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V max(V a, V b) { return _mm256_max_pd(a, b); }  // b where either is NaN
  static double sum(V v) {
    const __m128d half = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half)));
  }
  static V where_positive(V y, V x) { return _mm256_and_pd(_mm256_cmp_pd(y, zero(), _CMP_GT_OQ), x); }
};
constexpr int columns_per_tile = 6;  // NR: 2 × 6 accumulators + 2 loads + 1 broadcast ≤ 16 registers
#endif

template <class S>
struct Tiling {
  static constexpr Index mr = 2 * Simd<S>::lanes;                // rows of a register tile
  static constexpr Index nr = columns_per_tile;                  // columns of a register tile
  static constexpr Index kc = 256;                               // depth of a slice: one b panel (kc × nr) stays in L1
  /// Rows of an a block (mc × kc), which stays in L2 while the b panels stream past it: a
  /// quarter of this core's L2 (l2_bytes, gemm_kernel.hpp), between 3 and 30 register tiles.
  /// On a 2 MB L2 that is 512 float rows, 2% faster on a training step's products than 96.
  static Index mc() {
    static const Index rows = std::clamp<Index>(static_cast<Index>(l2_bytes() / 4 / (kc * sizeof(S))) / mr * mr, 3 * mr, 30 * mr);
    return rows;
  }
};

/// The register tile: c[0:m_valid, 0:n_valid] (+)= alpha · a_panel · b_panel over kc steps.
/// `set` (c = rather than c +=), `bias` (null: none) and `relu` as in Epilogue, for this slice of k.
template <class S>
inline void micro_kernel(Index kc, const S* a, const S* b, S* c, Index ldc, S alpha, Index m_valid, Index n_valid,
                         bool set, const S* bias, bool relu) {
  using T = Simd<S>;
  using V = typename T::V;
  constexpr int L = T::lanes, NR = columns_per_tile, MR = 2 * L;
  V acc0[NR], acc1[NR];
#pragma GCC unroll 16
  for (int j = 0; j < NR; ++j) acc0[j] = acc1[j] = T::zero();
  for (Index p = 0; p < kc; ++p, a += MR, b += NR) {
    const V a0 = T::loadu(a), a1 = T::loadu(a + L);
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j) {
      const V bj = T::set(b[j]);
      acc0[j] = T::fmadd(a0, bj, acc0[j]);
      acc1[j] = T::fmadd(a1, bj, acc1[j]);
    }
  }
  const V scale = T::set(alpha);
  if (m_valid == MR && n_valid == NR) {
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j) {
      S* column = c + j * ldc;
      const V base0 = !set ? T::loadu(column) : bias ? T::set(bias[j]) : T::zero();
      const V base1 = !set ? T::loadu(column + L) : base0;
      V out0 = T::fmadd(acc0[j], scale, base0), out1 = T::fmadd(acc1[j], scale, base1);
      if (relu) {
        out0 = T::max(T::zero(), out0);
        out1 = T::max(T::zero(), out1);
      }
      T::storeu(column, out0);
      T::storeu(column + L, out1);
    }
    return;
  }
  S tile[NR][MR];
#pragma GCC unroll 16
  for (int j = 0; j < NR; ++j) {
    T::storeu(tile[j], acc0[j]);
    T::storeu(tile[j] + L, acc1[j]);
  }
  for (Index j = 0; j < n_valid; ++j)
    for (Index i = 0; i < m_valid; ++i) {
      S& out = c[j * ldc + i];
      out = (!set ? out : bias ? bias[j] : S(0)) + alpha * tile[j][i];
      if (relu && out < S(0)) out = S(0);
    }
}

#if EIGENFLOW_KERNEL_ISA == 2
/// In-register transpose of a 16 × 16 float block: row r, element q → row q, element r.
inline void transpose16(__m512 (&r)[16]) {
  // The maskz forms with every lane kept are the same instructions; the plain forms
  // start from _mm512_undefined_ps, which GCC 12 flags as uninitialised (bug 105593).
  constexpr __mmask16 all16 = 0xFFFF;
  constexpr __mmask8 all8 = 0xFF;
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {  // t[2i], t[2i+1]: rows 2i, 2i+1 interleaved per 128-bit lane
    t[2 * i] = _mm512_maskz_unpacklo_ps(all16, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_maskz_unpackhi_ps(all16, r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i+e], lane l: rows 4i..4i+3 of column 4l+e
    const __m512d lo = _mm512_castps_pd(t[4 * i]), lo2 = _mm512_castps_pd(t[4 * i + 2]);
    const __m512d hi = _mm512_castps_pd(t[4 * i + 1]), hi2 = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(all8, lo, lo2));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(all8, lo, lo2));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(all8, hi, hi2));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(all8, hi, hi2));
  }
  for (int e = 0; e < 4; ++e) {  // gather lane l of r[e], r[4+e], r[8+e], r[12+e] into column 4l+e
    const __m512 s1 = _mm512_maskz_shuffle_f32x4(all16, r[e], r[4 + e], 0x44), s2 = _mm512_maskz_shuffle_f32x4(all16, r[e], r[4 + e], 0xEE);
    const __m512 s3 = _mm512_maskz_shuffle_f32x4(all16, r[8 + e], r[12 + e], 0x44), s4 = _mm512_maskz_shuffle_f32x4(all16, r[8 + e], r[12 + e], 0xEE);
    t[e] = _mm512_maskz_shuffle_f32x4(all16, s1, s3, 0x88);
    t[4 + e] = _mm512_maskz_shuffle_f32x4(all16, s1, s3, 0xDD);
    t[8 + e] = _mm512_maskz_shuffle_f32x4(all16, s2, s4, 0x88);
    t[12 + e] = _mm512_maskz_shuffle_f32x4(all16, s2, s4, 0xDD);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

#endif

/// out[p · width + r] = r < valid ? rows[r · stride + p] : 0 for p < depth, r < width:
/// `width` streams, each contiguous in p, interleaved into p-major order (a transpose).
template <class S>
void interleave(const S* rows, Index stride, Index valid, Index width, Index depth, S* out) {
  Index p = 0;
#if EIGENFLOW_KERNEL_ISA == 2
  if constexpr (std::is_same_v<S, float>) {  // 16 × 16 blocks transposed in registers
    for (; p + 16 <= depth; p += 16)
      for (Index r0 = 0; r0 < width; r0 += 16) {
        __m512 block[16];
        for (Index r = 0; r < 16; ++r)
          block[r] = r0 + r < valid ? _mm512_loadu_ps(rows + (r0 + r) * stride + p) : _mm512_setzero_ps();
        transpose16(block);
        const __mmask16 keep = static_cast<__mmask16>((1u << std::min<Index>(16, width - r0)) - 1);
        for (Index q = 0; q < 16; ++q) _mm512_mask_storeu_ps(out + (p + q) * width + r0, keep, block[q]);
      }
  }
#endif
  for (Index r = 0; r < width; ++r)
    for (Index q = p; q < depth; ++q) out[q * width + r] = r < valid ? rows[r * stride + q] : S(0);
}

/// op(x)[i0 : i0+rows, p0 : p0+depth] as consecutive Width-row panels, each p-major,
/// zero-padded to Width rows: op(a)'s MR-row panels, and op(b)ᵀ's NR-row ones.
template <Index Width, class S>
void pack_panels(const Operand<S>& x, Index i0, Index rows, Index p0, Index depth, S* out) {
  for (Index panel = 0; panel < rows; panel += Width, out += depth * Width) {
    const Index valid = std::min(Width, rows - panel);
    if (x.transposed) {  // op(x) row i is stored column i, contiguous in p
      interleave(x.data + p0 + (i0 + panel) * x.stride, x.stride, valid, Width, depth, out);
    } else if (valid == Width && Width % Simd<S>::lanes == 0) {  // whole columns: vector copies, not a memmove call each
      constexpr int L = Simd<S>::lanes;
      for (Index p = 0; p < depth; ++p) {
        const S* column = x.data + (i0 + panel) + (p0 + p) * x.stride;
        for (Index r = 0; r < Width; r += L) Simd<S>::storeu(out + p * Width + r, Simd<S>::loadu(column + r));
      }
    } else {  // column p of the panel is contiguous
      for (Index p = 0; p < depth; ++p) {
        const S* column = x.data + (i0 + panel) + (p0 + p) * x.stride;
        std::copy(column, column + valid, out + p * Width);
        std::fill(out + p * Width + valid, out + (p + 1) * Width, S(0));
      }
    }
  }
}

template <class S>
void pack_a(const Operand<S>& a, Index i0, Index rows, Index p0, Index depth, S* out) {
  pack_panels<Tiling<S>::mr>(a, i0, rows, p0, depth, out);
}

/// op(b)[p0 : p0+depth, j0 : j0+cols] packed as the panels of op(b)ᵀ, whose storage is b's read the other way.
template <class S>
void pack_b(const Operand<S>& b, Index p0, Index depth, Index j0, Index cols, S* out) {
  pack_panels<Tiling<S>::nr>(Operand<S>{b.data, b.stride, !b.transposed}, j0, cols, p0, depth, out);
}

/// c (m × n, column-major, leading dimension ldc) += alpha · op(a) · op(b), op(a) m × k, op(b) k × n;
/// with an epilogue, c = relu?([bias +] alpha · op(a) · op(b)) instead (bias: n values, one per column).
template <class S>
void gemm(Index m, Index n, Index k, S alpha, const Operand<S>& a, const Operand<S>& b, S* c, Index ldc,
          const Epilogue<S>& epilogue = {}) {
  using Tile = Tiling<S>;
  using Buffer = std::vector<S, Eigen::aligned_allocator<S>>;
  thread_local Buffer packed_a, packed_b;
  const Index n_padded = (n + Tile::nr - 1) / Tile::nr * Tile::nr;
  S* const b_panels = grow(packed_b, static_cast<std::size_t>(std::min(k, Tile::kc) * n_padded));
  const Index mc = Tile::mc();
  S* const a_panels = grow(packed_a, static_cast<std::size_t>(std::min(k, Tile::kc) * mc));
  for (Index p0 = 0; p0 < k; p0 += Tile::kc) {
    const Index depth = std::min(Tile::kc, k - p0);
    const bool set = p0 == 0 && (epilogue.overwrite || epilogue.bias);  // the first slice sets c, the later ones add
    const S* bias = p0 == 0 ? epilogue.bias : nullptr;
    const bool relu = epilogue.relu && p0 + depth == k;  // the last one rectifies
    pack_b(b, p0, depth, 0, n, b_panels);
    for (Index i0 = 0; i0 < m; i0 += mc) {
      const Index rows = std::min(mc, m - i0);
      pack_a(a, i0, rows, p0, depth, a_panels);
      for (Index j = 0; j < n; j += Tile::nr) {
        const S* b_panel = b_panels + j * depth;
        for (Index i = 0; i < rows; i += Tile::mr)
          micro_kernel(depth, a_panels + i * depth, b_panel, c + (i0 + i) + j * ldc, ldc, alpha,
                       std::min(Tile::mr, rows - i), std::min(Tile::nr, n - j), set, bias ? bias + j : nullptr, relu);
      }
    }
  }
}

// ---- the skinny products' passes (gemm.hpp) and the ReLU layer's backward ----------

/// N columns j of c, rows [0, m): c[i, j] = max?(c0 + Σ_{p<k} w_pj·a[i + p·lda], 0), w_pj =
/// alpha·coef[j·col_step + p·stride], c0 = set ? (bias ? bias[j] : 0) : c[i, j]. The N
/// columns share a's loads; R vectors of rows give R·N independent FMA chains.
template <int N, int R, class S>
void combine_block(Index m, Index k, const S* a, Index lda, const S* coef, Index col_step, Index stride, S alpha, S* c,
                   Index ldc, bool set, const S* bias, bool relu) {
  using T = Simd<S>;
  using V = typename T::V;
  constexpr int L = T::lanes;
  S base[N];
  for (int j = 0; j < N; ++j) base[j] = bias ? bias[j] : S(0);
  Index i = 0;
  const auto full_blocks = [&](const auto& weight) {  // weight(j, p): the broadcast w_pj
    for (; i + R * L <= m; i += R * L) {
      V acc[N][R];
      for (int j = 0; j < N; ++j)
        for (int r = 0; r < R; ++r) acc[j][r] = set ? T::set(base[j]) : T::loadu(c + j * ldc + i + r * L);
      for (Index p = 0; p < k; ++p) {
        V rows[R];
        for (int r = 0; r < R; ++r) rows[r] = T::loadu(a + p * lda + i + r * L);
        for (int j = 0; j < N; ++j) {
          const V w = weight(j, p);
          for (int r = 0; r < R; ++r) acc[j][r] = T::fmadd(rows[r], w, acc[j][r]);
        }
      }
      for (int j = 0; j < N; ++j)
        for (int r = 0; r < R; ++r) T::storeu(c + j * ldc + i + r * L, relu ? T::max(T::zero(), acc[j][r]) : acc[j][r]);
    }
  };
  if (k <= 4) {  // a layer's few inputs: the broadcasts made once, not once per block of rows
    V w[N][4];
    for (int j = 0; j < N; ++j)
      for (Index p = 0; p < k; ++p) w[j][p] = T::set(alpha * coef[j * col_step + p * stride]);
    full_blocks([&w](int j, Index p) { return w[j][p]; });
  } else {
    full_blocks([&](int j, Index p) { return T::set(alpha * coef[j * col_step + p * stride]); });
  }
  for (; i + L <= m; i += L)
    for (int j = 0; j < N; ++j) {
      V acc = set ? T::set(base[j]) : T::loadu(c + j * ldc + i);
      for (Index p = 0; p < k; ++p) acc = T::fmadd(T::loadu(a + p * lda + i), T::set(alpha * coef[j * col_step + p * stride]), acc);
      T::storeu(c + j * ldc + i, relu ? T::max(T::zero(), acc) : acc);
    }
  for (; i < m; ++i)
    for (int j = 0; j < N; ++j) {
      S acc = set ? base[j] : c[j * ldc + i];
      for (Index p = 0; p < k; ++p) acc = std::fma(a[p * lda + i], alpha * coef[j * col_step + p * stride], acc);
      c[j * ldc + i] = relu && acc < S(0) ? S(0) : acc;
    }
}

/// c[:, j] = max?(c0_j + Σ_{p<k} alpha·op(b)[p, j]·a[:, p], 0) for j < n, op(b)[p, j] =
/// coef[j·col_step + p·stride], c0_j as in combine_block: one pass over c for a product
/// with k ≤ 4 inputs or n ≤ 4 outputs. Each term is one fused
/// multiply-add in ascending p, in vector lanes and in the tail alike, so a row's value
/// does not depend on where the rows are cut.
template <class S>
void combine_columns(Index m, Index k, Index n, const S* a, Index lda, const S* coef, Index col_step, Index stride,
                     S alpha, S* c, Index ldc, bool set, const S* bias, bool relu) {
  if (n == 2)  // a 2-D coupling's output layer: both columns in one pass over a
    return combine_block<2, 4>(m, k, a, lda, coef, col_step, stride, alpha, c, ldc, set, bias, relu);
  for (Index j = 0; j < n; ++j)
    combine_block<1, 4>(m, k, a, lda, coef + j * col_step, col_step, stride, alpha, c + j * ldc, ldc, set,
                        bias ? bias + j : nullptr, relu);
}

/// out[c] = Σ_{p<k} x[c][p]·y[p] for c < N: the N dot products share y's loads.
template <int N, class S>
void dots_block(Index k, const S* const* x, const S* y, S* out) {
  using T = Simd<S>;
  using V = typename T::V;
  constexpr int L = T::lanes, R = N <= 2 ? 4 : 2;  // R·N ≥ 4 independent FMA chains
  V acc[N][R];
  for (int c = 0; c < N; ++c)
    for (int r = 0; r < R; ++r) acc[c][r] = T::zero();
  Index p = 0;
  for (; p + R * L <= k; p += R * L)
    for (int r = 0; r < R; ++r) {
      const V yr = T::loadu(y + p + r * L);
      for (int c = 0; c < N; ++c) acc[c][r] = T::fmadd(T::loadu(x[c] + p + r * L), yr, acc[c][r]);
    }
  for (; p + L <= k; p += L) {
    const V yr = T::loadu(y + p);
    for (int c = 0; c < N; ++c) acc[c][0] = T::fmadd(T::loadu(x[c] + p), yr, acc[c][0]);
  }
  for (int c = 0; c < N; ++c) {
    V both = acc[c][0];
    for (int r = 1; r < R; ++r) both = T::add(both, acc[c][r]);
    S total = T::sum(both);
    for (Index q = p; q < k; ++q) total = std::fma(x[c][q], y[q], total);
    out[c] = total;
  }
}

/// c[i, j] (+)= alpha · Σ_p a[p + i·lda]·b[p + j·ldb] (c = alpha · aᵀ·b, a k × m, b k × n) for a
/// product with m ≤ 4 or n ≤ 4: dot products, each column of the larger side read once.
template <class S>
void skinny_dots(Index m, Index n, Index k, S alpha, const S* a, Index lda, const S* b, Index ldb, S* c, Index ldc,
                 bool overwrite) {
  const bool rows_small = m <= 4;
  const Index small = rows_small ? m : n, large = rows_small ? n : m;
  const S* columns[4];
  for (Index s = 0; s < small; ++s) columns[s] = rows_small ? a + s * lda : b + s * ldb;
  S out[4];
  for (Index t = 0; t < large; ++t) {
    const S* other = rows_small ? b + t * ldb : a + t * lda;
    switch (small) {
      case 1: dots_block<1>(k, columns, other, out); break;
      case 2: dots_block<2>(k, columns, other, out); break;
      case 3: dots_block<3>(k, columns, other, out); break;
      default: dots_block<4>(k, columns, other, out); break;
    }
    for (Index s = 0; s < small; ++s) {
      S& entry = rows_small ? c[t * ldc + s] : c[s * ldc + t];
      entry = (overwrite ? S(0) : entry) + alpha * out[s];
    }
  }
}

/// dz[i] = y[i] > 0 ? dz[i] : 0 for i < n (a NaN y gives 0), and returns Σ dz: a ReLU
/// layer's backward on one column, with its bias gradient.
template <class S>
S relu_mask_sum(Index n, const S* y, S* dz) {
  using T = Simd<S>;
  using V = typename T::V;
  constexpr int L = T::lanes;
  V acc[2] = {T::zero(), T::zero()};
  Index i = 0;
  for (; i + 2 * L <= n; i += 2 * L)
    for (int r = 0; r < 2; ++r) {
      const V kept = T::where_positive(T::loadu(y + i + r * L), T::loadu(dz + i + r * L));
      T::storeu(dz + i + r * L, kept);
      acc[r] = T::add(acc[r], kept);
    }
  S total = T::sum(T::add(acc[0], acc[1]));
  for (; i < n; ++i) {
    dz[i] = y[i] > S(0) ? dz[i] : S(0);
    total += dz[i];
  }
  return total;
}
