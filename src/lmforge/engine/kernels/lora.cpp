// Multi-LoRA delta of one projection for a whole step in one call (a CPU SGMV, as Punica/S-LoRA
// do on GPUs): y[row] += B_a (A_a x[row]) for every row that has an adapter, rows grouped by
// adapter into segments. Included at the end of decode.cpp (its v16 helpers; one library).
//
// Why not torch: a step mixing 8 adapters made 4 ATen ops per adapter per projection (gather,
// shrink, expand, scatter-add) = ~3,800 dispatches per step for ~4% of the step's flops, which
// cost the mixed run ~30% of the base's tok/s. Here each projection is one ctypes call; A_a and
// B_a stay in L2 across the rows of a segment, and only each part's own block of B is touched
// (q/k/v and gate/up are fused, so their B is block-diagonal: 2-3x fewer expand flops than a
// dense block-diagonal matmul).
//
// Same fp32 products as x @ A^T then @ B^T; sums are in another order (tests compare with torch
// to rounding, and greedy outputs with the merged model token for token).

namespace {

struct LoraPart {  // as Python fills it: ranks [r0, r0 + rn) of A feed outputs [o0, o0 + on)
  int64_t r0, rn, o0, on;
  int64_t bt;  // offset (floats) of this part's B^T block [rn][on] in the adapter's bt
};

struct LoraSeg {  // one adapter's weights for this projection (18 int64, no padding)
  const float* a;   // A [R][K], R = sum of the parts' rn
  const float* bt;  // the parts' B^T blocks (scale folded in)
  int64_t nparts;   // 0: the adapter does not target this projection
  LoraPart part[3];
};

constexpr int LMB = 4;  // rows per block: A and B^T rows are loaded once per 4 rows

// t[i][k] = x[row_i] . A[k] for the M rows of a block, two ranks at a time (8 accumulators).
template <int M>
AI void lora_shrink(const float* x, const int64_t* rows, int64_t K, const float* a, int64_t R,
                    float* t) {
  const int64_t k16 = K - K % 16;
  const float* xr[M];
  for (int i = 0; i < M; ++i) xr[i] = x + rows[i] * K;
  int64_t k = 0;
  for (; k + 2 <= R; k += 2) {
    const float *a0 = a + k * K, *a1 = a0 + K;
    v16 s0[M], s1[M];
    for (int i = 0; i < M; ++i) s0[i] = s1[i] = v16{};
    for (int64_t j = 0; j < k16; j += 16) {
      const v16 w0 = vload(a0 + j), w1 = vload(a1 + j);
      for (int i = 0; i < M; ++i) {
        const v16 xv = vload(xr[i] + j);
        s0[i] += xv * w0;
        s1[i] += xv * w1;
      }
    }
    for (int i = 0; i < M; ++i) {
      float e0 = 0.f, e1 = 0.f;
      for (int64_t j = k16; j < K; ++j) {
        e0 += xr[i][j] * a0[j];
        e1 += xr[i][j] * a1[j];
      }
      t[i * R + k] = hsum(s0[i]) + e0;
      t[i * R + k + 1] = hsum(s1[i]) + e1;
    }
  }
  for (; k < R; ++k) {
    const float* a0 = a + k * K;
    for (int i = 0; i < M; ++i) {
      v16 s = v16{};
      for (int64_t j = 0; j < k16; j += 16) s += vload(xr[i] + j) * vload(a0 + j);
      float e = 0.f;
      for (int64_t j = k16; j < K; ++j) e += xr[i][j] * a0[j];
      t[i * R + k] = hsum(s) + e;
    }
  }
}

// y[row_i][o0 + c] += sum_k t[i][r0 + k] * bt[k][c] for one part: 32 outputs of M rows held in
// registers across the part's ranks, then 16, then scalars.
template <int M>
AI void lora_expand(float* y, const int64_t* rows, int64_t O, const LoraPart& p, const float* bt,
                    const float* t, int64_t R) {
  float* yr[M];
  const float* tr[M];
  for (int i = 0; i < M; ++i) {
    yr[i] = y + rows[i] * O + p.o0;
    tr[i] = t + i * R + p.r0;
  }
  const int64_t on = p.on, rn = p.rn;
  int64_t c = 0;
  for (; c + 32 <= on; c += 32) {
    v16 s0[M], s1[M];
    for (int i = 0; i < M; ++i) {
      s0[i] = vload(yr[i] + c);
      s1[i] = vload(yr[i] + c + 16);
    }
    for (int64_t k = 0; k < rn; ++k) {
      const v16 b0 = vload(bt + k * on + c), b1 = vload(bt + k * on + c + 16);
      for (int i = 0; i < M; ++i) {
        s0[i] += tr[i][k] * b0;
        s1[i] += tr[i][k] * b1;
      }
    }
    for (int i = 0; i < M; ++i) {
      vstore(yr[i] + c, s0[i]);
      vstore(yr[i] + c + 16, s1[i]);
    }
  }
  for (; c + 16 <= on; c += 16) {
    v16 s[M];
    for (int i = 0; i < M; ++i) s[i] = vload(yr[i] + c);
    for (int64_t k = 0; k < rn; ++k) {
      const v16 b = vload(bt + k * on + c);
      for (int i = 0; i < M; ++i) s[i] += tr[i][k] * b;
    }
    for (int i = 0; i < M; ++i) vstore(yr[i] + c, s[i]);
  }
  for (; c < on; ++c)
    for (int i = 0; i < M; ++i) {
      float s = yr[i][c];
      for (int64_t k = 0; k < rn; ++k) s += tr[i][k] * bt[k * on + c];
      yr[i][c] = s;
    }
}

template <int M>
AI void lora_block(const float* x, int64_t K, float* y, int64_t O, const int64_t* rows,
                   const LoraSeg& s, float* t) {
  const LoraPart& last = s.part[s.nparts - 1];
  const int64_t R = last.r0 + last.rn;
  lora_shrink<M>(x, rows, K, s.a, R, t);
  for (int64_t p = 0; p < s.nparts; ++p)
    lora_expand<M>(y, rows, O, s.part[p], s.bt + s.part[p].bt, t, R);
}

struct LoraBlocks {  // the call's work: blocks of up to LMB rows of one segment
  std::vector<int64_t> seg, start;
  int64_t rmax = 0, work = 0;
};

LoraBlocks lora_blocks(int64_t K, int64_t O, const int64_t* seg, const LoraSeg* segs,
                       int64_t S) {
  LoraBlocks b;
  for (int64_t s = 0; s < S; ++s) {
    if (segs[s].nparts == 0) continue;
    const LoraPart& last = segs[s].part[segs[s].nparts - 1];
    const int64_t R = last.r0 + last.rn;
    b.rmax = R > b.rmax ? R : b.rmax;
    b.work += (seg[s + 1] - seg[s]) * R * (K + O);
    for (int64_t r = seg[s]; r < seg[s + 1]; r += LMB) {
      b.seg.push_back(s);
      b.start.push_back(r);
    }
  }
  return b;
}

AI void lora_one(const float* x, int64_t K, float* y, int64_t O, const int64_t* rows,
                 const int64_t* seg, const LoraSeg* segs, const LoraBlocks& b, int64_t i,
                 float* t) {
  const int64_t s = b.seg[i], r = b.start[i], left = seg[s + 1] - r;
  if (left >= 4)
    lora_block<4>(x, K, y, O, rows + r, segs[s], t);
  else if (left == 3)
    lora_block<3>(x, K, y, O, rows + r, segs[s], t);
  else if (left == 2)
    lora_block<2>(x, K, y, O, rows + r, segs[s], t);
  else
    lora_block<1>(x, K, y, O, rows + r, segs[s], t);
}

// Per ISA, with the OpenMP region in the target-attributed function itself: GCC outlines a
// region with its enclosing function's target (inside an inlined default-target body the
// outlined loop was plain SSE2 and ran 5x slower).
#define LORA(NAME, TARGET)                                                                      \
  TARGET void NAME(const float* x, int64_t K, float* y, int64_t O, const int64_t* rows,         \
                   const int64_t* seg, const LoraSeg* segs, int64_t S, int nt) {                \
    const LoraBlocks b = lora_blocks(K, O, seg, segs, S);                                       \
    const int64_t nb = (int64_t)b.seg.size();                                                   \
    const bool par = nt > 1 && nb > 1 && b.work > 262144;                                       \
    _Pragma("omp parallel num_threads(nt) if (par)") {                                          \
      std::vector<float> t(LMB * b.rmax);                                                       \
      _Pragma("omp for schedule(static)") for (int64_t i = 0; i < nb; ++i)                      \
          lora_one(x, K, y, O, rows, seg, segs, b, i, t.data());                                \
    }                                                                                           \
  }
LORA(lora_512, T512)
LORA(lora_256, T256)

}  // namespace

extern "C" {

// x [N][K], y [N][O] fp32 row-major (y holds the base output and gets the deltas added);
// rows: row ids grouped by adapter, segment s = rows[seg[s] : seg[s + 1]] with weights segs[s].
void lmf_lora(int isa, const float* x, int64_t K, float* y, int64_t O, const int64_t* rows,
              const int64_t* seg, const void* segs, int64_t S, int nt) {
  if (isa == 2)
    lora_512(x, K, y, O, rows, seg, (const LoraSeg*)segs, S, nt);
  else
    lora_256(x, K, y, O, rows, seg, (const LoraSeg*)segs, S, nt);
}

}  // extern "C"
