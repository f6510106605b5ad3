// One batch-1 decode step of a Llama-family model in one call: every layer's RMSNorm, fused
// q/k/v projection (+ bias), RoPE, K/V write into the paged cache, attention read straight from
// the cache blocks (no gathered copy), o projection, residual, RMSNorm, fused gate/up, SiLU x up,
// down projection, residual; then the final norm and the LM head. At batch 1 the unfused torch
// path spends ~20 ATen dispatches per layer (5-15 us each) around its four matmuls; here the
// whole token is one ctypes call.
//
// The projections are fp32 row-major (nn.Linear's own weight; an AVX512/AVX2 GEMV below) or our
// packed int8/int4 (qgemm.cpp's kernels, unchanged, so a layer gives the bits it gives alone).
// The small ops are written once on GCC vector types and compiled for each ISA by inlining into
// a target-attributed entry, so `isa` (the same choice as the GEMMs) picks both.
// This file includes qgemm.cpp and attention.cpp: the library is this one translation unit.
#include "qgemm.cpp"

namespace {

// One projection, as Python fills it (8 fields of 8 bytes, no padding).
struct Lin {
  int64_t kind;     // 0 fp32 [n][k], 1 int8 packed (s: fp32 [n]), 2 int4 packed (s, m: fp16)
  const void* w;
  const void* s;
  const void* m;
  const float* b;   // fp32 bias or null
  int64_t n, k, group;
};

struct Layer {
  Lin qkv, o, gu, down;
  const float* ln1;
  const float* ln2;
  void* kc;  // [blocks][block_size][kv_heads][head_dim] fp32, or int8 codes when ks is set
  void* vc;
  uint16_t* ks;  // int8 KV: fp16 scale per (token, head) [blocks][block_size][kv_heads]; or null
  uint16_t* vs;
};

struct Dims {  // as Python fills it
  int64_t layers, hidden, inter, heads, kv_heads, head_dim, block_size, window, vocab;
  double eps;
};

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
#define AI __attribute__((always_inline)) inline

AI v16 vload(const float* p) {
  v16 v;
  std::memcpy(&v, p, 64);
  return v;
}
AI void vstore(float* p, v16 v) { std::memcpy(p, &v, 64); }
typedef int8_t v16b __attribute__((vector_size(16)));
AI v16 vload(const int8_t* p) {  // 16 int8 KV codes as floats
  v16b c;
  std::memcpy(&c, p, 16);
  return __builtin_convertvector(c, v16);
}
// A KV scale's fp16 bits as float, inline: the scales are positive normals (>= 2^-14), so a
// rebias of the exponent is exact. (A _Float16 cast is a libgcc call here, and a call inside the
// attention loops spills every vector register: int8 KV decoded at 0.62x fp32 with it.)
AI float f16(uint16_t h) {
  const uint32_t b = ((uint32_t)(h & 0x7fff) << 13) + 0x38000000u;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
AI float hsum(v16 v) {  // pairwise halves: a short dependency chain
  v8 a, b;
  std::memcpy(&a, &v, 32);
  std::memcpy(&b, (const char*)&v + 32, 32);
  a += b;
  v4 c, e;
  std::memcpy(&c, &a, 16);
  std::memcpy(&e, (const char*)&a + 16, 16);
  c += e;
  return (c[0] + c[2]) + (c[1] + c[3]);
}

// exp on 16 lanes (Cephes expf polynomial, ~1 ulp on [-87, 88]); inputs here are <= 0.
AI v16 vexp(v16 x) {
  const v16 lo = (v16){} - 87.3f;
  x = x < lo ? lo : x;
  const v16 fx = x * 1.44269504088896341f + 0.5f;
  v16i n = __builtin_convertvector(fx, v16i);  // truncates; -1 where that rounded up: floor
  n += __builtin_convertvector(n, v16) > fx;
  const v16 fn = __builtin_convertvector(n, v16);
  const v16 r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
  v16 p = r * 1.9875691500E-4f + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.f;
  const v16i e = (n + 127) << 23;
  v16 s;
  std::memcpy(&s, &e, 64);
  return p * s;
}

template <class E>
AI float dot(const float* a, const E* b, int64_t n) {
  v16 acc = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc += vload(a + i) * vload(b + i);
  float s = hsum(acc);
  for (; i < n; ++i) s += a[i] * (float)b[i];
  return s;
}

template <class E>
AI void axpy(float* y, float a, const E* x, int64_t n) {  // y += a x
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) vstore(y + i, vload(y + i) + a * vload(x + i));
  for (; i < n; ++i) y[i] += a * (float)x[i];
}

AI void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  const float r = 1.f / std::sqrt(dot(x, x, n) / (float)n + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * r * w[i];
}

AI void silu_mul(const float* gate, const float* up, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const v16 g = vload(gate + i);
    vstore(y + i, g / (1.f + vexp(-g)) * vload(up + i));
  }
  for (; i < n; ++i) y[i] = gate[i] / (1.f + std::exp(-gate[i])) * up[i];
}

// Rotate-half RoPE of `heads` vectors of d in place (cos/sin: this position's rows of d).
AI void rope(float* x, int64_t heads, int64_t d, const float* cs, const float* sn) {
  const int64_t h2 = d / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * d;
    for (int64_t i = 0; i < h2; ++i) {
      const float a = v[i], b = v[i + h2];
      v[i] = a * cs[i] - b * sn[i];
      v[i + h2] = b * cs[i + h2] + a * sn[i + h2];
    }
  }
}

#include "attention.cpp"
#include "batch_attention.cpp"

// ---------------------------------------------------------------- fp32 GEMV, y = W x
// One row at a time, four accumulators: a single sequential weight stream. Four rows at once
// (four streams K floats apart) measured 11 GB/s here against 21-22 GB/s for this and 24 GB/s
// for a plain read of the same huge-page weights, 1 thread.
T512 void f32_rows_512(const float* w, const float* x, int64_t k, float* y, int64_t r0,
                       int64_t r1) {
  const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
  const int64_t k16 = k - k % 16;
  for (int64_t r = r0; r < r1; ++r) {
    const float* wr = w + r * k;
    __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= k16; i += 64) {
      _mm_prefetch((const char*)(wr + i + 1024), _MM_HINT_T0);
      _mm_prefetch((const char*)(wr + i + 1040), _MM_HINT_T0);
      _mm_prefetch((const char*)(wr + i + 1056), _MM_HINT_T0);
      _mm_prefetch((const char*)(wr + i + 1072), _MM_HINT_T0);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j)
        a[j] = _mm512_fmadd_ps(_mm512_loadu_ps(wr + i + 16 * j), _mm512_loadu_ps(x + i + 16 * j),
                               a[j]);
    }
    for (; i < k16; i += 16)
      a[0] = _mm512_fmadd_ps(_mm512_loadu_ps(wr + i), _mm512_loadu_ps(x + i), a[0]);
    if (tail)
      a[1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, wr + k16),
                             _mm512_maskz_loadu_ps(tail, x + k16), a[1]);
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])));
  }
}

T256 float hsum256(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
}

T256 void f32_rows_256(const float* w, const float* x, int64_t k, float* y, int64_t r0,
                       int64_t r1) {
  const int64_t k8 = k - k % 8;
  for (int64_t r = r0; r < r1; ++r) {
    const float* wr = w + r * k;
    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= k8; i += 32) {
      _mm_prefetch((const char*)(wr + i + 1024), _MM_HINT_T0);
      _mm_prefetch((const char*)(wr + i + 1040), _MM_HINT_T0);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j)
        a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(wr + i + 8 * j), _mm256_loadu_ps(x + i + 8 * j),
                               a[j]);
    }
    for (; i < k8; i += 8)
      a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(wr + i), _mm256_loadu_ps(x + i), a[0]);
    float sum = hsum256(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])));
    for (; i < k; ++i) sum += wr[i] * x[i];
    y[r] = sum;
  }
}

void linear(int isa, const Lin& L, const float* x, float* y, int nt) {
  if (L.kind == 1) {
    lmf_int8_gemm(isa, x, 1, L.k, (const uint8_t*)L.w, (const float*)L.s, L.b, y, L.n, nt);
    return;
  }
  if (L.kind == 2) {
    lmf_int4_gemm(isa, x, 1, L.k, (const uint8_t*)L.w, (const uint16_t*)L.s,
                  (const uint16_t*)L.m, L.group, L.b, y, L.n, nt);
    return;
  }
  const int64_t chunks = (L.n + 63) / 64;
  const float* w = (const float*)L.w;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t r1 = (c + 1) * 64 < L.n ? (c + 1) * 64 : L.n;
    if (isa == 2)
      f32_rows_512(w, x, L.k, y, c * 64, r1);
    else
      f32_rows_256(w, x, L.k, y, c * 64, r1);
  }
  if (L.b)
    for (int64_t i = 0; i < L.n; ++i) y[i] += L.b[i];
}

thread_local std::vector<float> tl_buf;
thread_local std::vector<int64_t> tl_off;

// The step's body; inlined into one entry per ISA so the small ops get that ISA's vectors.
AI void decode_body(int isa, const Dims& dm, const Layer* layers, const Lin* head,
                    const float* norm, float* x, const float* cs, const float* sn, int64_t pos,
                    const int64_t* table, float* logits, int nt) {
  const int64_t hd = dm.hidden, d = dm.head_dim, nh = dm.heads, kvh = dm.kv_heads;
  const int64_t nqkv = (nh + 2 * kvh) * d, lo = dm.window > 0 && pos + 1 > dm.window
                                                     ? pos + 1 - dm.window
                                                     : 0;
  const int64_t ctx = pos + 1 - lo, rep = nh / kvh;
  std::vector<float>& buf = tl_buf;
  buf.resize(hd + nqkv + nh * d + 2 * dm.inter + dm.inter + hd + kvh * rep * ctx);
  float *h = buf.data(), *qkv = h + hd, *att = qkv + nqkv, *gu = att + nh * d;
  float *act = gu + 2 * dm.inter, *tmp = act + dm.inter, *sc = tmp + hd;
  std::vector<int64_t>& off = tl_off;  // each attended position's cache row, in elements
  off.resize(ctx);
  const int64_t bs = dm.block_size;
  for (int64_t p = lo; p <= pos; ++p) off[p - lo] = (table[p / bs] * bs + p % bs) * kvh * d;
  const int64_t slot = off[ctx - 1];
  const float eps = (float)dm.eps;
  for (int64_t l = 0; l < dm.layers; ++l) {
    const Layer& L = layers[l];
    rmsnorm(x, L.ln1, h, hd, eps);
    linear(isa, L.qkv, h, qkv, nt);
    rope(qkv, nh + kvh, d, cs, sn);
    if (L.ks) {
      quant_kv(qkv + nh * d, kvh, d, (int8_t*)L.kc + slot, L.ks + slot / d);
      quant_kv(qkv + (nh + kvh) * d, kvh, d, (int8_t*)L.vc + slot, L.vs + slot / d);
    } else {
      std::memcpy((float*)L.kc + slot, qkv + nh * d, kvh * d * 4);
      std::memcpy((float*)L.vc + slot, qkv + (nh + kvh) * d, kvh * d * 4);
    }
    (isa == 2 ? attention_512 : attention_256)(qkv, L.kc, L.vc, L.ks, L.vs, off.data(), ctx, dm,
                                               att, sc, nt);
    linear(isa, L.o, att, tmp, nt);
    for (int64_t i = 0; i < hd; ++i) x[i] += tmp[i];
    rmsnorm(x, L.ln2, h, hd, eps);
    linear(isa, L.gu, h, gu, nt);
    silu_mul(gu, gu + dm.inter, act, dm.inter);
    linear(isa, L.down, act, tmp, nt);
    for (int64_t i = 0; i < hd; ++i) x[i] += tmp[i];
  }
  if (head) {
    rmsnorm(x, norm, h, hd, eps);
    linear(isa, *head, h, logits, nt);
  }
}

T512 void decode_512(const Dims& dm, const Layer* layers, const Lin* head, const float* norm,
                     float* x, const float* cs, const float* sn, int64_t pos,
                     const int64_t* table, float* logits, int nt) {
  decode_body(2, dm, layers, head, norm, x, cs, sn, pos, table, logits, nt);
}

T256 void decode_256(const Dims& dm, const Layer* layers, const Lin* head, const float* norm,
                     float* x, const float* cs, const float* sn, int64_t pos,
                     const int64_t* table, float* logits, int nt) {
  decode_body(1, dm, layers, head, norm, x, cs, sn, pos, table, logits, nt);
}

}  // namespace

extern "C" {

// x [hidden]: the token's embedding in, its last hidden state out; cos/sin: the position's
// rows of the RoPE tables; table: the sequence's block ids. With `head` non-null, also the final
// norm and logits [vocab]. The K/V of position `pos` are written into every layer's cache.
void lmf_decode(int isa, const Dims* dm, const Layer* layers, const Lin* head, const float* norm,
                float* x, const float* cs, const float* sn, int64_t pos, const int64_t* table,
                float* logits, int nt) {
  if (isa == 2)
    decode_512(*dm, layers, head, norm, x, cs, sn, pos, table, logits, nt);
  else
    decode_256(*dm, layers, head, norm, x, cs, sn, pos, table, logits, nt);
}

// Attention of `rows` query rows (q: row r at q + r * q_stride, heads x head_dim fp32; its K/V
// already written) over their cached positions [0, lens[r]) (the last `window` with a sliding
// window), tables: [rows][width] block ids. out: [rows][heads x head_dim].
void lmf_batch_attention(int isa, const Dims* dm, const float* q, int64_t q_stride, int64_t rows,
                         const void* kc, const void* vc, const uint16_t* ks, const uint16_t* vs,
                         const int64_t* tables, int64_t width, const int64_t* lens, float* out,
                         int nt) {
  (isa == 2 ? batch_attention_512 : batch_attention_256)(q, q_stride, rows, kc, vc, ks, vs,
                                                         tables, width, lens, *dm, out, nt);
}

}  // extern "C"

#include "lora.cpp"  // the multi-LoRA delta (uses the v16 helpers above)
