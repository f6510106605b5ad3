// Included by decode.cpp (inside its anonymous namespace, after the vector helpers): the
// batch-1 attention straight from the paged KV cache, fp32 rows or int8 codes with per-token,
// per-head fp16 scales, and the int8 write of one token's K/V.

// kv_cache.quantize for one token's `heads` vectors of d: scale = fp16(max(amax / 127, 2^-14)),
// codes = round-half-even(x / scale) in [-127, 127], so both paths write the same bytes.
AI void quant_kv(const float* x, int64_t heads, int64_t d, int8_t* codes, uint16_t* scale) {
  for (int64_t h = 0; h < heads; ++h, x += d, codes += d) {
    float amax = 0.f;
    for (int64_t i = 0; i < d; ++i) amax = std::fabs(x[i]) > amax ? std::fabs(x[i]) : amax;
    const float s = amax / 127.f;
    const _Float16 hs = (_Float16)(s < 0x1p-14f ? 0x1p-14f : s);
    std::memcpy(scale + h, &hs, 2);
    const float sf = (float)hs;
    for (int64_t i = 0; i < d; ++i) {
      const float y = std::nearbyint(x[i] / sf);
      codes[i] = (int8_t)(y > 127.f ? 127.f : y < -127.f ? -127.f : y);
    }
  }
}

// Softmax in place over each of `rep` rows of n scores.
AI void softmax_rows(float* sc, int64_t rep, int64_t n) {
  for (int64_t r = 0; r < rep; ++r) {
    float* s = sc + r * n;
    float mx = s[0];
    for (int64_t i = 1; i < n; ++i) mx = s[i] > mx ? s[i] : mx;
    float tot = 0.f;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const v16 e = vexp(vload(s + i) - mx);
      vstore(s + i, e);
      tot += hsum(e);
    }
    for (; i < n; ++i) tot += (s[i] = std::exp(s[i] - mx));
    const float inv = 1.f / tot;
    for (i = 0; i < n; ++i) s[i] *= inv;
  }
}

constexpr int PF = 8;  // positions ahead to prefetch: K/V rows come from DRAM (weights evict them)

template <class E>
AI void prefetch_row(const E* p, int64_t d) {
  for (int64_t c = 0; c < d; c += 64 / sizeof(E)) __builtin_prefetch(p + c);
}

// Attention of one KV head's `rep` query heads over the n cached positions whose rows start at
// kc/vc + off[i] (+ g * d): scores, softmax, weighted V sum. D = head_dim known at compile time
// keeps a K/V row and the accumulators in registers; D = 0 is the any-size fallback.
// pk/pv + off[i] are prefetched `pf` elements per position (0: none). E = int8_t: codes, each
// row times its fp16 scale ks/vs[off[i] / d] (the dequantize folded into score and weight).
// Each cached row is loaded (and for int8 widened to floats) once per position and used by all
// query heads that share it, RT heads' V accumulators at a time (RT from the ISA's register
// file): widening the same row once per query head made int8 KV slower than fp32.
template <int D, int RT, class E>
AI void attend(const float* q, const E* kc, const E* vc, const uint16_t* ks, const uint16_t* vs,
               const int64_t* off, int64_t n, int64_t rep, int64_t d, float* out, float* sc,
               const E* pk, const E* pv, int64_t pf) {
  if (D) d = D;
  constexpr bool Q = sizeof(E) == 1;
  const float scale = 1.f / std::sqrt((float)d);
  if (D) {
    constexpr int C = D ? D / 16 : 1;
    for (int64_t i = 0; i < n; ++i) {
      if (i + PF < n) prefetch_row(pk + off[i + PF], pf);
      const E* k = kc + off[i];
      v16 kr[C];
      for (int c = 0; c < C; ++c) kr[c] = vload(k + 16 * c);
      const float f = Q ? scale * f16(ks[off[i] / d]) : scale;
      for (int64_t r = 0; r < rep; ++r) {
        v16 acc = {};
        for (int c = 0; c < C; ++c) acc += vload(q + r * d + 16 * c) * kr[c];
        sc[r * n + i] = hsum(acc) * f;
      }
    }
    softmax_rows(sc, rep, n);
    for (int64_t r0 = 0; r0 < rep; r0 += RT) {
      const int64_t nr = rep - r0 < RT ? rep - r0 : RT;
      v16 acc[RT][C] = {};
      for (int64_t i = 0; i < n; ++i) {
        if (r0 == 0 && i + PF < n) prefetch_row(pv + off[i + PF], pf);
        const E* v = vc + off[i];
        v16 vr[C];
        for (int c = 0; c < C; ++c) vr[c] = vload(v + 16 * c);
        const float f = Q ? f16(vs[off[i] / d]) : 1.f;
#pragma GCC unroll 8
        for (int t = 0; t < RT; ++t) {
          if (t >= nr) break;
          const float p = sc[(r0 + t) * n + i] * f;
          for (int c = 0; c < C; ++c) acc[t][c] += p * vr[c];
        }
      }
#pragma GCC unroll 8
      for (int t = 0; t < RT; ++t)  // constant indices only: acc stays in registers
        if (t < nr)
          for (int c = 0; c < C; ++c) vstore(out + (r0 + t) * d + 16 * c, acc[t][c]);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (i + PF < n) prefetch_row(pk + off[i + PF], pf);
    const E* k = kc + off[i];
    const float f = Q ? scale * f16(ks[off[i] / d]) : scale;
    for (int64_t r = 0; r < rep; ++r) sc[r * n + i] = dot(q + r * d, k, d) * f;
  }
  softmax_rows(sc, rep, n);
  std::memset(out, 0, rep * d * 4);
  for (int64_t i = 0; i < n; ++i) {
    if (i + PF < n) prefetch_row(pv + off[i + PF], pf);
    const float f = Q ? f16(vs[off[i] / d]) : 1.f;
    for (int64_t r = 0; r < rep; ++r) axpy(out + r * d, sc[r * n + i] * f, vc + off[i], d);
  }
}

// Query heads whose V accumulators fit the vector registers next to one V row: `regs` is the
// register file in 16-float vectors (AVX512: 32 zmm; AVX2: 16 ymm = 8), C vectors per row.
// Accumulators get 3/8 of it (AVX512 head_dim 64: 3 heads, GQA 9/3's group): larger tiles
// spilled to the stack (counted in the disassembly of attention_512).
constexpr int tile_rows(int regs, int c) { return regs * 3 / 8 / c > 1 ? regs * 3 / 8 / c : 1; }

// KV head g: its query heads, cache rows and scales, then the compiled size for head_dim.
template <int REGS, class E>
AI void attend_head(int64_t g, const float* qkv, const E* kc, const E* vc, const uint16_t* ks,
                    const uint16_t* vs, const int64_t* off, int64_t n, const Dims& dm, float* att,
                    float* sc, bool split) {
  const int64_t rep = dm.heads / dm.kv_heads, d = dm.head_dim;
  const float* q = qkv + g * rep * d;
  const E *k = kc + g * d, *v = vc + g * d;
  if (ks) ks += g, vs += g;
  float *o = att + g * rep * d, *s = sc + g * rep * n;
  const E *pk = split ? k : kc, *pv = split ? v : vc;
  const int64_t pf = split ? d : g == 0 ? dm.kv_heads * d : 0;
  if (d == 64)
    attend<64, tile_rows(REGS, 4)>(q, k, v, ks, vs, off, n, rep, d, o, s, pk, pv, pf);
  else if (d == 128)
    attend<128, tile_rows(REGS, 8)>(q, k, v, ks, vs, off, n, rep, d, o, s, pk, pv, pf);
  else if (d == 16)
    attend<16, tile_rows(REGS, 1)>(q, k, v, ks, vs, off, n, rep, d, o, s, pk, pv, pf);
  else
    attend<0, 1>(q, k, v, ks, vs, off, n, rep, d, o, s, pk, pv, pf);
}

// All KV heads (threads split them when the context is long). Per ISA, not in the inlined body:
// GCC outlines an OpenMP region with its enclosing function's target, so it must be this one's.
// On one thread the first head prefetches each position's whole row (all KV heads, contiguous),
// one sequential stream, and the others find it in L2; split over threads, each its own head.
#define ATTENTION(NAME, TARGET, REGS)                                                                \
  TARGET void NAME(const float* qkv, const void* kc, const void* vc, const uint16_t* ks,        \
                   const uint16_t* vs, const int64_t* off, int64_t n, const Dims& dm, float* att, \
                   float* sc, int nt) {                                                          \
    const bool split = nt > 1 && n * (dm.heads / dm.kv_heads) > 512;                             \
    _Pragma("omp parallel for num_threads(nt) schedule(static) if (split)")                     \
    for (int64_t g = 0; g < dm.kv_heads; ++g) {                                                  \
      if (ks)                                                                                    \
        attend_head<REGS>(g, qkv, (const int8_t*)kc, (const int8_t*)vc, ks, vs, off, n, dm, att, \
                          sc, split);                                                            \
      else                                                                                       \
        attend_head<REGS>(g, qkv, (const float*)kc, (const float*)vc, ks, vs, off, n, dm, att,   \
                          sc, split);                                                            \
    }                                                                                            \
  }
ATTENTION(attention_512, T512, 32)
ATTENTION(attention_256, T256, 8)
