"""The batched forward's C++ row ops (kernels/rowops.py): residual + RMSNorm and SiLU x up
against torch's ops, both ISA paths, and the engine with them on vs off."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from engine_helpers import PROMPTS, make_engine

from lmforge.engine import SamplingParams
from lmforge.engine.kernels import choose, ops, rowops

HAVE = choose().isa
ISAS = [lvl for lvl in ops.ISAS.values() if lvl <= HAVE]
needs_ours = pytest.mark.skipif(HAVE == 0, reason=f"our kernels unavailable: {choose().reason}")


@needs_ours
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("rows", [1, 7, 300])  # decode-sized, odd, parallel-sized
@pytest.mark.parametrize("n", [576, 40])  # 16-wide vectors only, and a scalar tail
def test_add_rms_norm_and_silu_mul_match_torch(
    isa: int, rows: int, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rowops, "_isa", lambda: isa)
    torch.manual_seed(rows + n)
    x, r, w = torch.randn(rows, n) * 3, torch.randn(rows, n), torch.randn(n)
    xo, y = rowops.add_rms_norm(x, w, 1e-5, r)
    assert torch.equal(xo, x + r)  # the new residual stream, exactly
    torch.testing.assert_close(y, F.rms_norm(x + r, (n,), w, 1e-5), atol=1e-5, rtol=1e-5)
    same, y1 = rowops.add_rms_norm(x, w, 1e-6)
    assert same is x
    torch.testing.assert_close(y1, F.rms_norm(x, (n,), w, 1e-6), atol=1e-5, rtol=1e-5)
    gu = torch.randn(rows, 2 * n) * 4
    gate, up = gu.chunk(2, -1)
    torch.testing.assert_close(rowops.silu_mul(gu), F.silu(gate) * up, atol=1e-5, rtol=1e-5)


def test_applies_only_to_fp32_cpu_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rowops, "_isa", lambda: 2)
    assert rowops.applies(torch.zeros(3, 32))
    assert not rowops.applies(torch.zeros(3, 32, dtype=torch.bfloat16))
    assert not rowops.applies(torch.zeros(2, 3, 32))
    assert not rowops.applies(torch.zeros(32, 3).T)  # not contiguous
    monkeypatch.setattr(rowops, "_isa", lambda: 0)  # LMFORGE_ROWOPS=0 or no kernels
    assert not rowops.applies(torch.zeros(3, 32))


@needs_ours
@pytest.mark.parametrize("mode", ["none", "int4"])
def test_engine_with_row_ops_equals_torch_ops(
    mode: str, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batched run (prefill chunks and multi-row decode steps) gives the same greedy tokens
    with the C++ row ops as with torch's."""
    sp = SamplingParams(max_tokens=16, temperature=0, ignore_eos=True)
    outs = []
    for isa in (0, HAVE):
        monkeypatch.setattr(rowops, "_isa", lambda isa=isa: isa)
        eng = make_engine(tiny_llama_dir, quantization=mode, cpu_kernels="fp32")
        for i, p in enumerate(PROMPTS):
            eng.add_request(p, sp, request_id=str(i))
        done: dict[str, list[int]] = {}
        while eng.has_unfinished():
            for o in eng.step():
                if o.finished:
                    done[o.request_id] = list(o.token_ids)
        outs.append(done)
    assert outs[0] == outs[1] and len(outs[0]) == len(PROMPTS)
