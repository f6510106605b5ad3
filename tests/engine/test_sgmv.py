"""kernels/lora.cpp's multi-LoRA delta against the same math in float64 (and the torch path)."""

from types import SimpleNamespace

import pytest
import torch

from lmforge.engine.kernels import choose
from lmforge.engine.kernels.sgmv import Plan, seg_table
from lmforge.engine.lora import LoRAWeight

HAVE = choose().isa
needs_ours = pytest.mark.skipif(HAVE == 0, reason=f"our kernels unavailable: {choose().reason}")


def weight(gen: torch.Generator, k: int, outs: list[int], ranks: list[int]) -> LoRAWeight:
    """A fused projection's adapter: parts with rank 0 are untargeted (no A rows, no block)."""
    a_rows, bts, parts, r0, off = [], [], [], 0, 0
    for p, (on, rn) in enumerate(zip(outs, ranks, strict=True)):
        if rn == 0:
            continue
        a_rows.append(torch.randn(rn, k, generator=gen))
        bts.append(torch.randn(rn * on, generator=gen))
        parts.append((r0, rn, sum(outs[:p]), on, off))
        r0, off = r0 + rn, off + rn * on
    return LoRAWeight(torch.cat(a_rows).contiguous(), torch.cat(bts), tuple(parts))


def reference(x: torch.Tensor, y: torch.Tensor, groups: list) -> torch.Tensor:
    """float64, row by row: y + B (A x) over each targeted part."""
    out = y.double().clone()
    for ad, rows in groups:
        w = ad.w
        for i in rows:
            t = w.a.double() @ x[i].double()
            for r0, rn, o0, on, off in w.parts:
                bt = w.bt[off : off + rn * on].view(rn, on).double()
                out[i, o0 : o0 + on] += t[r0 : r0 + rn] @ bt
    return out


def case(seed: int, k: int, outs: list[int]) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    specs = [[4] * len(outs), [16] + [0] * (len(outs) - 1), [3] * len(outs), [8] * len(outs)]
    ads = []
    for r in specs:
        w = weight(gen, k, outs, r)
        ads.append(SimpleNamespace(w=w, table=seg_table([w])))
    n = 40
    perm = torch.randperm(n, generator=gen).tolist()
    # 1..9 rows per adapter (every block size 1-4 and a tail), scattered; some rows keep the base
    groups = [
        (ads[0], perm[:9]),
        (ads[1], perm[9:10]),
        (ads[2], perm[10:17]),
        (ads[3], perm[17:20]),
    ]
    groups.append((SimpleNamespace(w=ads[0].w, table=ads[0].table), list(range(30, 36))))
    x, y = torch.randn(n, k, generator=gen), torch.randn(n, sum(outs), generator=gen)
    return x, y, groups


@needs_ours
@pytest.mark.parametrize("isa", [1, 2])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("k", "outs"),
    [(64, [64, 32, 32]), (70, [40, 24, 24]), (96, [128, 128]), (33, [17])],
)
def test_kernel_matches_float64(isa: int, threads: int, k: int, outs: list[int]) -> None:
    if isa > HAVE:
        pytest.skip(f"CPU has isa level {HAVE}")
    x, y, groups = case(k + len(outs), k, outs)
    want = reference(x, y, groups)
    plan = Plan.build(isa, groups)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = plan.apply(0, x, y.clone())
    finally:
        torch.set_num_threads(saved)
    assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-4)
    untouched = [i for i in range(x.shape[0]) if i not in {r for _, rs in groups for r in rs}]
    assert torch.equal(got[untouched], y[untouched])  # rows without an adapter keep the base


def test_torch_path_matches_float64() -> None:
    x, y, groups = case(5, 70, [40, 24, 24])
    got = y.clone()
    for ad, rows in groups:
        ad.w.add_to(x, got, torch.tensor(rows))
    ad, rows = groups[-1]  # contiguous rows: the slice form
    sliced = y.clone()
    ad.w.add_to(x, sliced, slice(rows[0], rows[-1] + 1))
    assert torch.allclose(got.double(), reference(x, y, groups), rtol=1e-5, atol=1e-4)
    assert torch.allclose(sliced.double(), reference(x, y, [groups[-1]]), rtol=1e-5, atol=1e-4)


@needs_ours
def test_plan_skips_untargeted_projection() -> None:
    """A projection the adapters do not target (table row of zeros) is left as the base."""
    x, y, groups = case(7, 64, [64, 32, 32])
    for ad, _ in groups:
        ad.table = seg_table([None, ad.w])
    plan = Plan.build(HAVE, groups)
    assert torch.equal(plan.apply(0, x, y.clone()), y)
    assert torch.allclose(plan.apply(1, x, y.clone()).double(), reference(x, y, groups), 1e-5, 1e-4)
