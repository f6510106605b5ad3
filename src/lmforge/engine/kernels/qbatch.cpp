// Many-row int4 GEMM on AVX512-VNNI (batched decode, prefill chunks): the int8 kernel's inner
// loop on int4 weights, with no dequantization to float.
//
// Why a second int4 kernel: `i4_tile_512` (qgemm.cpp) unpacks the nibbles and converts the fp16
// group scales/minimums again for every 4 activation rows, so at many rows int4 paid ~1.25x the
// int8 kernel's time for the same number of `vpdpbusd` (measured, 1 thread, the default model's
// four projections at 32-256 rows). Here each 16-row weight tile is unpacked once per chunk of up
// to MT activation rows into a small buffer in the int8 step layout ([K/4][16][4] u8 codes 0..15,
// L1-resident: 16 x K bytes) with its scales/minimums as fp32 [K/G][16]; up to 8 rows then share
// every weight load, and the per-block work is 8 dot products + the int32 -> fp32 scale steps.
//
// Same arithmetic, in the same order, as `i4_tile_512` / `i4_tile_256` / `i4_row_512` (u8 code
// x s8 activation sums per 32-block, times the activation's block scale, times the group scale,
// plus minimum x the activation's group sum), so the result is bitwise the one those give.

// The tile's codes and fp32 scales/minimums, unpacked for the kernel below.
T512 void i4_unpack_tile(const uint8_t* w, const uint16_t* sc, const uint16_t* mn, int64_t K,
                         int64_t ng, uint8_t* codes, float* s, float* z) {
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < K / QB; ++b)
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {  // low nibble: step 2p (k 8p..8p+3), high: step 2p + 1
      const __m512i v = _mm512_loadu_si512(w + b * 256 + p * 64);
      _mm512_store_si512(codes + b * 512 + p * 128, _mm512_and_si512(v, lo4));
      _mm512_store_si512(codes + b * 512 + p * 128 + 64,
                         _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4));
    }
  for (int64_t g = 0; g < ng; ++g) {
    _mm512_store_ps(s + g * 16, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(sc + g * 16))));
    _mm512_store_ps(z + g * 16, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(mn + g * 16))));
  }
}

// The activations of a call regrouped for the kernel below: rows in groups of 8 (the last
// group: the rest), and within a group each 4-byte quad of k, block scale and group sum stored
// for the group's rows side by side, so one pointer plus constant offsets reaches every row's
// operand (a pointer per row spilled to vector registers at 8 rows: 15-20% slower).
struct I4Rows {
  std::vector<int32_t> q;  // group r (rows 8r..): [K/4][rows]
  std::vector<float> s;    // [K/32][rows]
  std::vector<float> g;    // [K/G][rows]
};
thread_local I4Rows tl_rows;

void i4_group_rows(const Act& a, const float* gsum, int64_t M, int64_t K, int64_t G, I4Rows& r,
                   int nt) {
  const int64_t nq = K / 4, nb = K / QB, ng = K / G;
  r.q.resize(M * nq);
  r.s.resize(M * nb);
  r.g.resize(M * ng);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && M * K > 65536)
  for (int64_t g0 = 0; g0 < M; g0 += 8) {
    const int64_t rows = M - g0 < 8 ? M - g0 : 8;
    int32_t* q = r.q.data() + g0 * nq;
    for (int64_t m = 0; m < rows; ++m) {
      const int8_t* x = a.q.data() + (g0 + m) * K;
      for (int64_t i = 0; i < nq; ++i) q[i * rows + m] = ld4(x + 4 * i);
      for (int64_t b = 0; b < nb; ++b) r.s[g0 * nb + b * rows + m] = a.s[(g0 + m) * nb + b];
      for (int64_t j = 0; j < ng; ++j) r.g[g0 * ng + j * rows + m] = gsum[(g0 + m) * ng + j];
    }
  }
}

// One group of MB rows (operands from I4Rows, starting at the group) against one unpacked tile;
// y: the group's first output row. G32: one activation block per group (GGUF Q4_0/Q4_1's grid,
// the engine's default), so the block scale goes straight into the group's.
template <int MB, bool G32>
T512 void i4_batch_512(const uint8_t* codes, const float* s, const float* z, const int32_t* xq,
                       const float* xs, const float* gs, int64_t K, int64_t G, float* y,
                       int64_t N, int64_t n0) {
  const int64_t ng = K / G, bpg = G / QB;
  __m512 fy[MB];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m) fy[m] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m512 fa[MB];
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) fa[m] = _mm512_setzero_ps();
    for (int64_t bb = 0; bb < bpg; ++bb) {
      const int64_t b = g * bpg + bb;
      const uint8_t* wb = codes + b * 512;
      const int32_t* xb = xq + b * 8 * MB;
      __m512i acc[MB];
#pragma GCC unroll 8
      for (int m = 0; m < MB; ++m) acc[m] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) {
        const __m512i wv = _mm512_load_si512(wb + t * 64);
#pragma GCC unroll 8
        for (int m = 0; m < MB; ++m)
          acc[m] = _mm512_dpbusd_epi32(acc[m], wv, _mm512_set1_epi32(xb[t * MB + m]));
      }
#pragma GCC unroll 8
      for (int m = 0; m < MB; ++m) {
        const __m512 d = _mm512_set1_ps(xs[b * MB + m]);
        fa[m] = G32 ? _mm512_mul_ps(_mm512_cvtepi32_ps(acc[m]), d)
                    : _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m]), d, fa[m]);
      }
    }
    const __m512 sv = _mm512_load_ps(s + g * 16), zv = _mm512_load_ps(z + g * 16);
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m)
      fy[m] = _mm512_fmadd_ps(zv, _mm512_set1_ps(gs[g * MB + m]), _mm512_fmadd_ps(fa[m], sv, fy[m]));
  }
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m) _mm512_storeu_ps(y + m * N + n0, fy[m]);
}

template <bool G32>
void i4_batch_group(int64_t rows, const uint8_t* c, const float* s, const float* z,
                    const int32_t* xq, const float* xs, const float* gs, int64_t K, int64_t G,
                    float* y, int64_t N, int64_t n0) {
  switch (rows) {
#define LMF_CASE(R) \
  case R:           \
    return i4_batch_512<R, G32>(c, s, z, xq, xs, gs, K, G, y, N, n0);
    LMF_CASE(1) LMF_CASE(2) LMF_CASE(3) LMF_CASE(4) LMF_CASE(5) LMF_CASE(6) LMF_CASE(7)
    LMF_CASE(8)
#undef LMF_CASE
  }
}

// Per thread: one tile's unpacked codes and fp32 scales/minimums (reused across calls).
struct I4Tile {
  std::vector<uint8_t, std::allocator<uint8_t>> raw;
  uint8_t* codes = nullptr;
  float* s = nullptr;
  float* z = nullptr;
  void fit(int64_t K, int64_t ng) {
    const size_t need = 64 + 16 * K + 2 * 64 * ng + 64;
    if (raw.size() < need) raw.resize(need);
    uintptr_t p = ((uintptr_t)raw.data() + 63) & ~(uintptr_t)63;  // 64-byte aligned loads
    codes = (uint8_t*)p;
    s = (float*)(p + 16 * K);
    z = s + 16 * ng;
  }
};
thread_local I4Tile tl_tile;

// Rows [mb, me) of x (mb a multiple of 8) against tile t (packed codes w, fp16 sc/mn of that
// tile), the rows' operands in r.
void i4_batch(const uint8_t* w, const uint16_t* sc, const uint16_t* mn, const I4Rows& r,
              int64_t M, int64_t mb, int64_t me, int64_t K, int64_t G, float* y, int64_t N,
              int64_t n0) {
  const int64_t ng = K / G, nq = K / 4, nb = K / QB;
  I4Tile& tile = tl_tile;
  tile.fit(K, ng);
  i4_unpack_tile(w, sc, mn, K, ng, tile.codes, tile.s, tile.z);
  for (int64_t g0 = mb; g0 < me; g0 += 8) {
    const int64_t rows = M - g0 < 8 ? M - g0 : 8;
    const int32_t* xq = r.q.data() + g0 * nq;
    const float *xs = r.s.data() + g0 * nb, *gs = r.g.data() + g0 * ng;
    if (G == QB)
      i4_batch_group<true>(rows, tile.codes, tile.s, tile.z, xq, xs, gs, K, G, y + g0 * N, N, n0);
    else
      i4_batch_group<false>(rows, tile.codes, tile.s, tile.z, xq, xs, gs, K, G, y + g0 * N, N, n0);
  }
}
