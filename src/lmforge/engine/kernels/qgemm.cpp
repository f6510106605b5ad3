// lmforge CPU weight-only int8 / int4 GEMM (y = x W^T), llama.cpp Q8_0-style: each activation
// row is quantized to int8 in blocks of 32 (one fp32 scale per block), and the integer dot
// products run on VNNI (`vpdpbusd`) or on AVX2's `vpmaddubsw` + `vpmaddwd` (same lane shape).
//
// Weight layout (packed once at load, see pack.py): tiles of 16 output rows; within a tile,
// K/4 steps of 64 bytes, lane j of a step = 4 consecutive k of row j. One step is one
// 512-bit dpbusd: 16 rows at once, the activation's 4 bytes broadcast, so no horizontal sums.
//   int8: byte = w + 128 (u8, VNNI's unsigned operand); the +128 is removed per block through
//         the activation's block sum (acc starts at -128 * sum(xq)).
//   int4: per block of 32 k, 4 x 64 bytes; low nibble = step 2p, high nibble = step 2p + 1.
//         Codes 0..15, w = code * scale + min, fp16 scale/min per [tile][group][16 rows].
// Many rows of int4 on VNNI (batched decode, prefill): qbatch.cpp, the same sums in the same order.
// Built ISA-neutral; functions carry target attributes and `lmf_isa` picks at run time.
#include <immintrin.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))
#define T256 __attribute__((target("avx2,fma,f16c")))

namespace {

constexpr int QB = 32;  // activation quantization block

struct Act {  // one call's quantized activations
  std::vector<int8_t> q;    // [M][K]
  std::vector<float> s;     // [M][K/32]
  std::vector<int32_t> sum; // [M][K/32] sum of q over the block
};

// Reused across calls (one per calling thread): no allocation per layer per step.
thread_local Act tl_act;
thread_local std::vector<float> tl_gsum;

// One block of 32: scale amax / 127, codes round-to-nearest-even (as nearbyint), code sum.
// AVX2 is enough (both kernel paths have it) and the result is the same bits on either.
T256 void quantize_block(const float* xb, int8_t* q, float* d_out, int32_t* sum_out) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  __m256 v[4], m = _mm256_setzero_ps();
  for (int j = 0; j < 4; ++j) {
    v[j] = _mm256_loadu_ps(xb + 8 * j);
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[j]));
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  const float amax = _mm_cvtss_f32(h), d = amax / 127.f, id = d > 0.f ? 1.f / d : 0.f;
  const __m256 iv = _mm256_set1_ps(id);
  __m256i c[4];
  for (int j = 0; j < 4; ++j) c[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], iv));
  const __m256i s4 = _mm256_add_epi32(_mm256_add_epi32(c[0], c[1]), _mm256_add_epi32(c[2], c[3]));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(c[0], c[1]), _mm256_packs_epi32(c[2], c[3]));
  _mm256_storeu_si256((__m256i*)q,
                      _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  *d_out = d;
  *sum_out = _mm_cvtsi128_si32(s);
}

void quantize_rows(const float* x, int64_t M, int64_t K, Act& a, int nt) {
  const int64_t nb = K / QB;
  a.q.resize(M * K);
  a.s.resize(M * nb);
  a.sum.resize(M * nb);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && M * K > 65536)
  for (int64_t i = 0; i < M * nb; ++i)  // rows are contiguous, K % 32 == 0
    quantize_block(x + i * QB, a.q.data() + i * QB, &a.s[i], &a.sum[i]);
}

inline float half_to_float(uint16_t h) {  // IEEE fp16 -> fp32, subnormals included
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 31, m = h & 1023;
  if (e == 0) return (sign ? -1.f : 1.f) * std::ldexp((float)m, -24);
  const uint32_t bits = e == 31 ? sign | 0x7F800000 | (m << 13) : sign | ((e + 112) << 23) | (m << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline int32_t ld4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---------------------------------------------------------------- AVX512-VNNI
template <int MB>
T512 void i8_tile_512(const uint8_t* w, const float* ws, const Act& a, int64_t m0, int64_t K,
                      float* y, int64_t N, int64_t n0) {
  const int64_t nb = K / QB;
  __m512 fa[MB];
#pragma GCC unroll 4
  for (int m = 0; m < MB; ++m) fa[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i acc[MB];
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) acc[m] = _mm512_set1_epi32(-128 * a.sum[(m0 + m) * nb + b]);
    const uint8_t* wb = w + b * 512;
    _mm_prefetch((const char*)(wb + 2048), _MM_HINT_T0);
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const __m512i wv = _mm512_loadu_si512(wb + t * 64);
#pragma GCC unroll 4
      for (int m = 0; m < MB; ++m) {
        const __m512i xv = _mm512_set1_epi32(ld4(a.q.data() + (m0 + m) * K + b * QB + t * 4));
        acc[m] = _mm512_dpbusd_epi32(acc[m], wv, xv);
      }
    }
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m)
      fa[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m]), _mm512_set1_ps(a.s[(m0 + m) * nb + b]),
                              fa[m]);
  }
  const __m512 sv = _mm512_loadu_ps(ws + n0);
#pragma GCC unroll 4
  for (int m = 0; m < MB; ++m) _mm512_storeu_ps(y + (m0 + m) * N + n0, _mm512_mul_ps(fa[m], sv));
}

template <int MB>
T512 void i4_tile_512(const uint8_t* w, const uint16_t* sc, const uint16_t* mn, const Act& a,
                      const float* gsum, int64_t m0, int64_t K, int64_t G, float* y, int64_t N,
                      int64_t n0) {
  const int64_t nb = K / QB, ng = K / G, bpg = G / QB;
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  __m512 fy[MB];
#pragma GCC unroll 4
  for (int m = 0; m < MB; ++m) fy[m] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m512 fa[MB];
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) fa[m] = _mm512_setzero_ps();
    for (int64_t bb = 0; bb < bpg; ++bb) {
      const int64_t b = g * bpg + bb;
      const uint8_t* wb = w + b * 256;
      _mm_prefetch((const char*)(wb + 1024), _MM_HINT_T0);
      __m512i acc[MB];
#pragma GCC unroll 4
      for (int m = 0; m < MB; ++m) acc[m] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        const __m512i v = _mm512_loadu_si512(wb + p * 64);
        const __m512i l = _mm512_and_si512(v, lo4);
        const __m512i h = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
#pragma GCC unroll 4
        for (int m = 0; m < MB; ++m) {
          const int8_t* xq = a.q.data() + (m0 + m) * K + b * QB + p * 8;
          acc[m] = _mm512_dpbusd_epi32(acc[m], l, _mm512_set1_epi32(ld4(xq)));
          acc[m] = _mm512_dpbusd_epi32(acc[m], h, _mm512_set1_epi32(ld4(xq + 4)));
        }
      }
#pragma GCC unroll 4
      for (int m = 0; m < MB; ++m)
        fa[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m]),
                                _mm512_set1_ps(a.s[(m0 + m) * nb + b]), fa[m]);
    }
    const __m512 s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(sc + g * 16)));
    const __m512 z = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(mn + g * 16)));
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m)
      fy[m] = _mm512_fmadd_ps(z, _mm512_set1_ps(gsum[(m0 + m) * ng + g]),
                              _mm512_fmadd_ps(fa[m], s, fy[m]));
  }
#pragma GCC unroll 4
  for (int m = 0; m < MB; ++m) _mm512_storeu_ps(y + (m0 + m) * N + n0, fy[m]);
}

// ---------------------------------------------------------------- AVX2 (no VNNI)
// A 64-byte step is two ymm halves (rows 0-7, 8-15); dpbusd is emulated as
// maddubs(|w|, sign(x, w)) (int8: both signed, |products| <= 2 * 127 * 127, no saturation)
// or maddubs(code, x) (int4: codes 0..15), then madd with ones to 4-byte sums.
T256 inline __m256i dot4_s8(__m256i acc, __m256i ws, __m256i x) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(ws), _mm256_sign_epi8(x, ws));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

T256 inline __m256i dot4_u4(__m256i acc, __m256i c, __m256i x) {
  const __m256i p = _mm256_maddubs_epi16(c, x);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

template <int MB>
T256 void i8_tile_256(const uint8_t* w, const float* ws, const Act& a, int64_t m0, int64_t K,
                      float* y, int64_t N, int64_t n0) {
  const int64_t nb = K / QB;
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  __m256 fa[MB][2];
  for (int m = 0; m < MB; ++m) fa[m][0] = fa[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i acc[MB][2];
    for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_si256();
    const uint8_t* wb = w + b * 512;
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const __m256i w0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(wb + t * 64)), flip);
      const __m256i w1 =
          _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(wb + t * 64 + 32)), flip);
#pragma GCC unroll 2
      for (int m = 0; m < MB; ++m) {
        const __m256i xv = _mm256_set1_epi32(ld4(a.q.data() + (m0 + m) * K + b * QB + t * 4));
        acc[m][0] = dot4_s8(acc[m][0], w0, xv);
        acc[m][1] = dot4_s8(acc[m][1], w1, xv);
      }
    }
    for (int m = 0; m < MB; ++m) {
      const __m256 s = _mm256_set1_ps(a.s[(m0 + m) * nb + b]);
      fa[m][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[m][0]), s, fa[m][0]);
      fa[m][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[m][1]), s, fa[m][1]);
    }
  }
  for (int m = 0; m < MB; ++m)
    for (int h = 0; h < 2; ++h)
      _mm256_storeu_ps(y + (m0 + m) * N + n0 + 8 * h,
                       _mm256_mul_ps(fa[m][h], _mm256_loadu_ps(ws + n0 + 8 * h)));
}

template <int MB>
T256 void i4_tile_256(const uint8_t* w, const uint16_t* sc, const uint16_t* mn, const Act& a,
                      const float* gsum, int64_t m0, int64_t K, int64_t G, float* y, int64_t N,
                      int64_t n0) {
  const int64_t nb = K / QB, ng = K / G, bpg = G / QB;
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  __m256 fy[MB][2];
  for (int m = 0; m < MB; ++m) fy[m][0] = fy[m][1] = _mm256_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m256 fa[MB][2];
    for (int m = 0; m < MB; ++m) fa[m][0] = fa[m][1] = _mm256_setzero_ps();
    for (int64_t bb = 0; bb < bpg; ++bb) {
      const int64_t b = g * bpg + bb;
      const uint8_t* wb = w + b * 256;
      __m256i acc[MB][2];
      for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m256i v = _mm256_loadu_si256((const __m256i*)(wb + p * 64 + 32 * h));
          const __m256i l = _mm256_and_si256(v, lo4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
#pragma GCC unroll 2
          for (int m = 0; m < MB; ++m) {
            const int8_t* xq = a.q.data() + (m0 + m) * K + b * QB + p * 8;
            acc[m][h] = dot4_u4(acc[m][h], l, _mm256_set1_epi32(ld4(xq)));
            acc[m][h] = dot4_u4(acc[m][h], hi, _mm256_set1_epi32(ld4(xq + 4)));
          }
        }
      }
      for (int m = 0; m < MB; ++m) {
        const __m256 s = _mm256_set1_ps(a.s[(m0 + m) * nb + b]);
        fa[m][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[m][0]), s, fa[m][0]);
        fa[m][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[m][1]), s, fa[m][1]);
      }
    }
    for (int m = 0; m < MB; ++m)
      for (int h = 0; h < 2; ++h) {
        const __m256 s = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(sc + g * 16 + 8 * h)));
        const __m256 z = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(mn + g * 16 + 8 * h)));
        fy[m][h] = _mm256_fmadd_ps(z, _mm256_set1_ps(gsum[(m0 + m) * ng + g]),
                                   _mm256_fmadd_ps(fa[m][h], s, fy[m][h]));
      }
  }
  for (int m = 0; m < MB; ++m)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(y + (m0 + m) * N + n0 + 8 * h, fy[m][h]);
}

#include "qrow.cpp"    // the batch-1 row kernels
#include "qbatch.cpp"  // the many-row int4 kernel

// ---------------------------------------------------------------- drivers
// Rows [mb, me) of x against one weight tile; 4 (AVX512) or 2 (AVX2) rows share each weight load,
// an AVX512 tail of 2-3 rows too (one pass per tail row: at 7 rows int4 took 0.270 ms over the
// default model's four projections, 0.210 with the tail in one pass).
void i8_rows(int isa, const uint8_t* w, const float* ws, const Act& a, int64_t mb, int64_t me,
             int64_t K, float* y, int64_t N, int64_t n0) {
  int64_t m = mb;
  if (isa == 2) {  // a tail of 2-3 rows in one pass over the tile, not one pass per row
    for (; m + 4 <= me; m += 4) i8_tile_512<4>(w, ws, a, m, K, y, N, n0);
    if (me - m == 3) i8_tile_512<3>(w, ws, a, m, K, y, N, n0), m += 3;
    if (me - m == 2) i8_tile_512<2>(w, ws, a, m, K, y, N, n0), m += 2;
    for (; m < me; ++m) i8_row_512(w, ws, a, m, K, y, N, n0);
  } else {
    for (; m + 2 <= me; m += 2) i8_tile_256<2>(w, ws, a, m, K, y, N, n0);
    for (; m < me; ++m) i8_tile_256<1>(w, ws, a, m, K, y, N, n0);
  }
}

void i4_rows(int isa, const uint8_t* w, const uint16_t* sc, const uint16_t* mn, const Act& a,
             const float* gsum, int64_t mb, int64_t me, int64_t K, int64_t G, float* y,
             int64_t N, int64_t n0) {
  int64_t m = mb;
  if (isa == 2) {  // a tail of 2-3 rows in one pass over the tile, not one pass per row
    for (; m + 4 <= me; m += 4) i4_tile_512<4>(w, sc, mn, a, gsum, m, K, G, y, N, n0);
    if (me - m == 3) i4_tile_512<3>(w, sc, mn, a, gsum, m, K, G, y, N, n0), m += 3;
    if (me - m == 2) i4_tile_512<2>(w, sc, mn, a, gsum, m, K, G, y, N, n0), m += 2;
    for (; m < me; ++m) i4_row_512(w, sc, mn, a, gsum, m, K, G, y, N, n0);
  } else {
    for (; m + 2 <= me; m += 2) i4_tile_256<2>(w, sc, mn, a, gsum, m, K, G, y, N, n0);
    for (; m < me; ++m) i4_row_256(w, sc, mn, a, gsum, m, K, G, y, N, n0);
  }
}

// Rows of x per pass over a weight tile: the tile (16 x K) stays in L1/L2 while up to MT rows
// of x stream past it; (row chunk, tile) pairs are split over threads.
constexpr int64_t MT = 64;
// From this many rows on, int4 takes qbatch.cpp's kernel (one unpack of each tile per chunk of
// rows); below, `i4_rows` reads the packed nibbles directly (nothing to amortize an unpack over).
int64_t I4_BATCH_ROWS = 24;  // measured: equal at 16 rows, the new kernel 7-8% ahead from 24 on

void add_bias(const float* bias, float* y, int64_t M, int64_t N) {
  if (!bias) return;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) y[m * N + n] += bias[n];
}

}  // namespace

extern "C" {

// 2: AVX512-VNNI, 1: AVX2+FMA+F16C, 0: neither (the caller falls back to torch).
int lmf_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
    return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
  return 0;
}

// y[M][N] = x[M][K] W^T (+ bias), W packed by pack.py. K % 32 == 0, N % 16 == 0.
void lmf_int8_gemm(int isa, const float* x, int64_t M, int64_t K, const uint8_t* w,
                   const float* ws, const float* bias, float* y, int64_t N, int nt) {
  Act& a = tl_act;
  quantize_rows(x, M, K, a, nt);
  const int64_t tiles = N / 16, chunks = (M + MT - 1) / MT;
#pragma omp parallel for num_threads(nt) schedule(static) collapse(2) if (nt > 1)
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t me = (c + 1) * MT < M ? (c + 1) * MT : M;
      i8_rows(isa, w + t * 16 * K, ws, a, c * MT, me, K, y, N, t * 16);
    }
  add_bias(bias, y, M, N);
}

// As lmf_int8_gemm with int4 codes in groups of G (a multiple of 32): sc/mn are fp16
// [N/16][K/G][16] scales and minimums.
void lmf_int4_gemm(int isa, const float* x, int64_t M, int64_t K, const uint8_t* w,
                   const uint16_t* sc, const uint16_t* mn, int64_t G, const float* bias, float* y,
                   int64_t N, int nt) {
  Act& a = tl_act;
  quantize_rows(x, M, K, a, nt);
  const int64_t nb = K / QB, ng = K / G, bpg = G / QB;
  std::vector<float>& gsum = tl_gsum;
  gsum.resize(M * ng);  // sum over a group of x as quantized: the min's weight
  for (int64_t m = 0; m < M; ++m)
    for (int64_t g = 0; g < ng; ++g) {
      float s = 0.f;
      for (int64_t b = g * bpg; b < (g + 1) * bpg; ++b) s += a.s[m * nb + b] * a.sum[m * nb + b];
      gsum[m * ng + g] = s;
    }
  const int64_t tiles = N / 16, chunks = (M + MT - 1) / MT;
  const bool batch = isa == 2 && M >= I4_BATCH_ROWS;
  if (batch) i4_group_rows(a, gsum.data(), M, K, G, tl_rows, nt);
  const I4Rows& r = tl_rows;
#pragma omp parallel for num_threads(nt) schedule(static) collapse(2) if (nt > 1)
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t me = (c + 1) * MT < M ? (c + 1) * MT : M;
      if (batch)
        i4_batch(w + t * 8 * K, sc + t * ng * 16, mn + t * ng * 16, r, M, c * MT, me, K, G, y, N,
                 t * 16);
      else
        i4_rows(isa, w + t * 8 * K, sc + t * ng * 16, mn + t * ng * 16, a, gsum.data(), c * MT,
                me, K, G, y, N, t * 16);
    }
  add_bias(bias, y, M, N);
}

// Sets the row count from which int4 takes the many-row kernel (tests force either path);
// returns the previous one.
int64_t lmf_i4_batch_rows(int64_t rows) {
  const int64_t old = I4_BATCH_ROWS;
  I4_BATCH_ROWS = rows;
  return old;
}

// Dequantize the packed weights into a dense row-major [N][K] matrix, fp32 or bf16 (rounded to
// nearest even), for the many-row path: there a dense bf16 matmul (AMX/oneDNN where present)
// beats the integer kernel, and doing this in one pass here costs a fraction of the matmul.
__attribute__((target_clones("avx512f", "avx2", "default"))) void lmf_dequant(
    const uint8_t* w, const float* ws, const uint16_t* sc, const uint16_t* mn, int64_t G,
    int64_t N, int64_t K, void* out, int bf16, int nt) {
  const int64_t ng = G ? K / G : 0;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t t = 0; t < N / 16; ++t) {
    float row[16][256];
    for (int64_t k0 = 0; k0 < K; k0 += 256) {  // 16 rows x 256 k at a time, then stored
      const int64_t kn = K - k0 < 256 ? K - k0 : 256;
      if (G == 0) {  // int8: [T][K/4][16][4], byte = q + 128
        for (int64_t st = 0; st < kn / 4; ++st) {
          const uint8_t* src = w + t * 16 * K + (k0 / 4 + st) * 64;
          for (int j = 0; j < 16; ++j)
            for (int i = 0; i < 4; ++i) row[j][st * 4 + i] = ((int)src[j * 4 + i] - 128) * ws[t * 16 + j];
        }
      } else {  // int4: [T][K/32][4][16][4], low nibble k = 8p + i, high 8p + 4 + i
        for (int64_t bl = 0; bl < kn / 32; ++bl) {
          const int64_t b = k0 / 32 + bl, g = t * ng * 16 + (b * 32 / G) * 16;
          float sj[16], mj[16];
          for (int j = 0; j < 16; ++j) sj[j] = half_to_float(sc[g + j]), mj[j] = half_to_float(mn[g + j]);
          for (int p = 0; p < 4; ++p) {
            const uint8_t* src = w + t * 8 * K + b * 256 + p * 64;
            for (int j = 0; j < 16; ++j)
              for (int i = 0; i < 4; ++i) {
                const uint8_t byte = src[j * 4 + i];
                row[j][bl * 32 + p * 8 + i] = (byte & 15) * sj[j] + mj[j];
                row[j][bl * 32 + p * 8 + 4 + i] = (byte >> 4) * sj[j] + mj[j];
              }
          }
        }
      }
      for (int j = 0; j < 16; ++j) {
        const int64_t at = (t * 16 + j) * K + k0;
        if (bf16) {
          uint16_t* o = (uint16_t*)out + at;
          for (int64_t k = 0; k < kn; ++k) {
            uint32_t u;
            std::memcpy(&u, &row[j][k], 4);
            o[k] = (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
          }
        } else {
          std::memcpy((float*)out + at, row[j], kn * 4);
        }
      }
    }
  }
}

}  // extern "C"
