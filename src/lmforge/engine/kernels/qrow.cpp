// Batch-1 row kernels (one activation row against one 16-row tile), included by qgemm.cpp
// inside its namespace: the decode case, where qgemm.cpp's small-M tile kernels at M = 1 leave
// one chain of dependent dot products per block and load each group's fp16 scale and minimum
// inside the block loop. Same integer sums and the same fp32 operations in the same order as
// those kernels, so the same bits (tests/engine/test_kernels.py checks AVX512 == AVX2).
//
// Measured (default model's 30 layers, 1 thread, huge pages): 4 independent partial sums per
// block; no software prefetch (a prefetch per block cut the int8 stream from 30 to 19-22 GB/s);
// int4's scales converted to fp32 a chunk of groups at a time before their blocks (a cvtph load
// per group in the loop: 3.6 ms; without any scale loads 1.8 ms; converted up front 2.4 ms).

constexpr int64_t SCH = 64;  // int4 groups whose scales are converted per chunk

T512 void i8_row_512(const uint8_t* w, const float* ws, const Act& a, int64_t m, int64_t K,
                     float* y, int64_t N, int64_t n0) {
  const int64_t nb = K / QB;
  const int8_t* xq = a.q.data() + m * K;
  __m512 fa = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m512i z = _mm512_setzero_si512();
    __m512i acc[4] = {_mm512_set1_epi32(-128 * a.sum[m * nb + b]), z, z, z};
    const uint8_t* wb = w + b * 512;
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t)
      acc[t & 3] = _mm512_dpbusd_epi32(acc[t & 3], _mm512_loadu_si512(wb + t * 64),
                                       _mm512_set1_epi32(ld4(xq + b * QB + t * 4)));
    const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]),
                                         _mm512_add_epi32(acc[2], acc[3]));
    fa = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(a.s[m * nb + b]), fa);
  }
  _mm512_storeu_ps(y + m * N + n0, _mm512_mul_ps(fa, _mm512_loadu_ps(ws + n0)));
}

T512 void i4_row_512(const uint8_t* w, const uint16_t* sc, const uint16_t* mn, const Act& a,
                     const float* gsum, int64_t m, int64_t K, int64_t G, float* y, int64_t N,
                     int64_t n0) {
  const int64_t nb = K / QB, ng = K / G, bpg = G / QB;
  const int8_t* xq = a.q.data() + m * K;
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  alignas(64) float fs[SCH * 16], fz[SCH * 16];
  __m512 fy = _mm512_setzero_ps();
  for (int64_t g0 = 0; g0 < ng; g0 += SCH) {
    const int64_t g1 = g0 + SCH < ng ? g0 + SCH : ng;
    for (int64_t g = g0; g < g1; ++g) {
      _mm512_store_ps(fs + (g - g0) * 16,
                      _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(sc + g * 16))));
      _mm512_store_ps(fz + (g - g0) * 16,
                      _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(mn + g * 16))));
    }
    for (int64_t g = g0; g < g1; ++g) {
      __m512 fa = _mm512_setzero_ps();
      for (int64_t bb = 0; bb < bpg; ++bb) {
        const int64_t b = g * bpg + bb;
        const uint8_t* wb = w + b * 256;
        const __m512i z = _mm512_setzero_si512();
        __m512i acc[4] = {z, z, z, z};
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {
          const __m512i v = _mm512_loadu_si512(wb + p * 64);
          const __m512i l = _mm512_and_si512(v, lo4);
          const __m512i h = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
          const int8_t* x = xq + b * QB + p * 8;
          acc[p & 1] = _mm512_dpbusd_epi32(acc[p & 1], l, _mm512_set1_epi32(ld4(x)));
          acc[2 + (p & 1)] =
              _mm512_dpbusd_epi32(acc[2 + (p & 1)], h, _mm512_set1_epi32(ld4(x + 4)));
        }
        const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]),
                                             _mm512_add_epi32(acc[2], acc[3]));
        fa = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(a.s[m * nb + b]), fa);
      }
      const __m512 s = _mm512_load_ps(fs + (g - g0) * 16), z = _mm512_load_ps(fz + (g - g0) * 16);
      fy = _mm512_fmadd_ps(z, _mm512_set1_ps(gsum[m * ng + g]), _mm512_fmadd_ps(fa, s, fy));
    }
  }
  _mm512_storeu_ps(y + m * N + n0, fy);
}

// AVX2: the tile as two 8-row halves, as i4_tile_256; scales converted up front as above.
T256 void i4_row_256(const uint8_t* w, const uint16_t* sc, const uint16_t* mn, const Act& a,
                     const float* gsum, int64_t m, int64_t K, int64_t G, float* y, int64_t N,
                     int64_t n0) {
  const int64_t nb = K / QB, ng = K / G, bpg = G / QB;
  const int8_t* xq = a.q.data() + m * K;
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  alignas(32) float fs[SCH * 16], fz[SCH * 16];
  __m256 fy[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t g0 = 0; g0 < ng; g0 += SCH) {
    const int64_t g1 = g0 + SCH < ng ? g0 + SCH : ng;
    for (int64_t g = g0; g < g1; ++g)
      for (int h = 0; h < 2; ++h) {
        const int64_t at = (g - g0) * 16 + 8 * h;
        _mm256_store_ps(fs + at, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(sc + g * 16 + 8 * h))));
        _mm256_store_ps(fz + at, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(mn + g * 16 + 8 * h))));
      }
    for (int64_t g = g0; g < g1; ++g) {
      __m256 fa[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int64_t bb = 0; bb < bpg; ++bb) {
        const int64_t b = g * bpg + bb;
        const uint8_t* wb = w + b * 256;
        __m256i acc[2][2] = {{_mm256_setzero_si256(), _mm256_setzero_si256()},
                             {_mm256_setzero_si256(), _mm256_setzero_si256()}};
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p)
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            const __m256i v = _mm256_loadu_si256((const __m256i*)(wb + p * 64 + 32 * h));
            const __m256i l = _mm256_and_si256(v, lo4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
            const int8_t* x = xq + b * QB + p * 8;
            acc[h][0] = dot4_u4(acc[h][0], l, _mm256_set1_epi32(ld4(x)));
            acc[h][1] = dot4_u4(acc[h][1], hi, _mm256_set1_epi32(ld4(x + 4)));
          }
        const __m256 s = _mm256_set1_ps(a.s[m * nb + b]);
        for (int h = 0; h < 2; ++h)
          fa[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc[h][0], acc[h][1])), s,
                                  fa[h]);
      }
      const __m256 gs = _mm256_set1_ps(gsum[m * ng + g]);
      for (int h = 0; h < 2; ++h) {
        const int64_t at = (g - g0) * 16 + 8 * h;
        fy[h] = _mm256_fmadd_ps(_mm256_load_ps(fz + at), gs,
                                _mm256_fmadd_ps(fa[h], _mm256_load_ps(fs + at), fy[h]));
      }
    }
  }
  for (int h = 0; h < 2; ++h) _mm256_storeu_ps(y + m * N + n0 + 8 * h, fy[h]);
}
