// Included by decode.cpp after attention.cpp: attention of many query rows straight from the
// paged KV cache, one call per layer. Each row is a query token with its own block table and
// context length (a decode token of one sequence); it runs the batch-1 step's `attention_*`
// over its positions, so rows compute exactly what the fused step computes for them. The torch
// path instead splits decodes into length groups and, per group and layer, gathers the blocks
// into a padded copy (index_select) for one SDPA call: on the bench workload that copied ~0.9 GB
// of fp32 K/V per step at 64 rows and made ~10 SDPA calls per layer.

thread_local std::vector<int64_t> tl_row_off;
thread_local std::vector<float> tl_row_sc;

// Rows in parallel when there are enough of them (each thread its own rows, whole KV rows read
// as one stream); a few long rows split their KV heads instead (attention_*'s own split).
#define BATCH_ATTENTION(NAME, TARGET, ONE)                                                      \
  TARGET void NAME(const float* q, int64_t q_stride, int64_t rows, const void* kc,             \
                   const void* vc, const uint16_t* ks, const uint16_t* vs, const int64_t* tables, \
                   int64_t width, const int64_t* lens, const Dims& dm, float* out, int nt) {    \
    const bool outer = nt > 1 && rows >= nt;                                                    \
    const int64_t bs = dm.block_size, row = dm.kv_heads * dm.head_dim;                          \
    _Pragma("omp parallel for num_threads(nt) schedule(dynamic, 1) if (outer)")                 \
    for (int64_t r = 0; r < rows; ++r) {                                                        \
      const int64_t n = lens[r], lo = dm.window > 0 && n > dm.window ? n - dm.window : 0;       \
      std::vector<int64_t>& off = tl_row_off;                                                   \
      std::vector<float>& sc = tl_row_sc;                                                       \
      off.resize(n - lo);                                                                       \
      sc.resize(dm.heads * (n - lo));                                                           \
      const int64_t* t = tables + r * width;                                                    \
      for (int64_t p = lo; p < n; ++p) off[p - lo] = (t[p / bs] * bs + p % bs) * row;          \
      ONE(q + r * q_stride, kc, vc, ks, vs, off.data(), n - lo, dm,                             \
          out + r * dm.heads * dm.head_dim, sc.data(), outer ? 1 : nt);                         \
    }                                                                                           \
  }
BATCH_ATTENTION(batch_attention_512, T512, attention_512)
BATCH_ATTENTION(batch_attention_256, T256, attention_256)
