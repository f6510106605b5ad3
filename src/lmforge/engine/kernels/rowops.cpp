// Row-wise small ops of the batched forward, one call each per layer (included at the end of
// decode.cpp for its vector helpers): residual add + RMSNorm, and SiLU(gate) x up.
//
// Why: on the 64-request throughput workload at 1 thread (int4, profiled), torch's CPU
// `F.rms_norm` was 6 ATen ops (pow, mean, add, rsqrt, mul, mul), ~100 us a call, 10% of the
// run's CPU time, and silu + mul another ~5%; at a decode step of a few rows nearly all of it is
// dispatch, not arithmetic. The math is the fused batch-1 step's own (`rmsnorm`, `silu_mul`
// above), so a batched row computes what the batch-1 step computes for it.

namespace {

AI void add_rmsnorm_body(const float* x, const float* r, const float* w, float* xo, float* y,
                         int64_t rows, int64_t n, float eps, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && rows * n >= 65536)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xi = x + i * n;
    if (r) {  // xo = x + r, normalised
      float* o = xo + i * n;
      const float* ri = r + i * n;
      int64_t j = 0;
      for (; j + 16 <= n; j += 16) vstore(o + j, vload(xi + j) + vload(ri + j));
      for (; j < n; ++j) o[j] = xi[j] + ri[j];
      xi = o;
    }
    rmsnorm(xi, w, y + i * n, n, eps);
  }
}

AI void silu_mul_body(const float* gu, float* y, int64_t rows, int64_t inter, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && rows * inter >= 65536)
  for (int64_t i = 0; i < rows; ++i)
    silu_mul(gu + i * 2 * inter, gu + i * 2 * inter + inter, y + i * inter, inter);
}

T512 void add_rmsnorm_512(const float* x, const float* r, const float* w, float* xo, float* y,
                          int64_t rows, int64_t n, float eps, int nt) {
  add_rmsnorm_body(x, r, w, xo, y, rows, n, eps, nt);
}
T256 void add_rmsnorm_256(const float* x, const float* r, const float* w, float* xo, float* y,
                          int64_t rows, int64_t n, float eps, int nt) {
  add_rmsnorm_body(x, r, w, xo, y, rows, n, eps, nt);
}
T512 void silu_mul_512(const float* gu, float* y, int64_t rows, int64_t inter, int nt) {
  silu_mul_body(gu, y, rows, inter, nt);
}
T256 void silu_mul_256(const float* gu, float* y, int64_t rows, int64_t inter, int nt) {
  silu_mul_body(gu, y, rows, inter, nt);
}

}  // namespace

extern "C" {

// y[rows][n] = RMSNorm(x (+ r)) * w; with r non-null also xo = x + r (the new residual stream).
void lmf_add_rmsnorm(int isa, const float* x, const float* r, const float* w, float* xo, float* y,
                     int64_t rows, int64_t n, double eps, int nt) {
  (isa == 2 ? add_rmsnorm_512 : add_rmsnorm_256)(x, r, w, xo, y, rows, n, (float)eps, nt);
}

// y[rows][inter] = SiLU(gu[:, :inter]) * gu[:, inter:] (the fused gate/up projection's output).
void lmf_silu_mul(int isa, const float* gu, float* y, int64_t rows, int64_t inter, int nt) {
  (isa == 2 ? silu_mul_512 : silu_mul_256)(gu, y, rows, inter, nt);
}

}  // extern "C"
