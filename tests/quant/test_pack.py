"""Packing: exact round trips, and the bit layout AutoGPTQ's 3-bit packer writes."""

import pytest
import torch

from lmforge.quant.grid import rtn
from lmforge.quant.pack import (
    awq_compatible,
    awq_tensors,
    from_awq,
    from_gptq,
    gptq_tensors,
    pack_bits,
    unpack_bits,
)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_bit_stream_round_trip(bits: int) -> None:
    v = torch.randint(0, 2**bits, (7, 96))
    assert torch.equal(unpack_bits(pack_bits(v, bits), bits, 96), v.int())


def test_three_bit_layout_matches_autogptq() -> None:
    # AutoGPTQ packs 32 3-bit codes into 3 words: codes 0-9 in bits 0-29, code 10 split over
    # bits 30-31 and the next word's bit 0, codes 11-20 from bit 1, code 21 split, 22-31 from 2.
    v = torch.randint(0, 8, (32,))
    w = [x & 0xFFFFFFFF for x in pack_bits(v[None], 3)[0].tolist()]
    c = v.tolist()
    want = [0, 0, 0]
    for j in range(10):
        want[0] |= c[j] << (3 * j)
    want[0] |= (c[10] << 30) & 0xFFFFFFFF
    want[1] |= (c[10] >> 2) & 1
    for j in range(10):
        want[1] |= c[11 + j] << (3 * j + 1)
    want[1] |= (c[21] << 31) & 0xFFFFFFFF
    want[2] |= (c[21] >> 1) & 3
    for j in range(10):
        want[2] |= c[22 + j] << (3 * j + 2)
    assert w == want


def test_awq_nibble_order() -> None:
    # AutoAWQ gemm: word c of a row holds output columns c*8 + [0,2,4,6,1,3,5,7], 4 bits each.
    q = rtn(torch.randn(16, 64), 4, 32)
    t = awq_tensors(q)
    word = t["qweight"][5, 1].item() & 0xFFFFFFFF
    cols = [8 + o for o in (0, 2, 4, 6, 1, 3, 5, 7)]
    assert [(word >> (4 * i)) & 15 for i in range(8)] == [q.qweight[c, 5].item() for c in cols]
    assert t["qweight"].shape == (64, 2) and t["qzeros"].shape == (2, 2)
    assert t["scales"].shape == (2, 16) and t["scales"].dtype == torch.float16


@pytest.mark.parametrize("bits", [3, 4, 8])
@pytest.mark.parametrize("v2", [True, False])
def test_gptq_round_trip(bits: int, v2: bool) -> None:
    q = rtn(torch.randn(64, 96), bits, 32, sym=not v2)
    t = gptq_tensors(q, v2)
    assert t["qweight"].shape == (96 * bits // 32, 64)
    assert t["qzeros"].shape == (3, 64 * bits // 32) and t["g_idx"].shape == (96,)
    r = from_gptq(t, bits, v2)
    assert torch.equal(r.qweight, q.qweight) and torch.equal(r.zeros, q.zeros)
    assert torch.equal(r.g_idx, q.g_idx)
    torch.testing.assert_close(r.dequantize(), q.dequantize(), atol=1e-3, rtol=1e-3)


def test_awq_round_trip_and_limits() -> None:
    q = rtn(torch.randn(64, 128), 4, 64)
    r = from_awq(awq_tensors(q))
    assert torch.equal(r.qweight, q.qweight) and torch.equal(r.zeros, q.zeros)
    assert torch.equal(r.dequantize(), q.dequantize())  # scales are fp16 on both sides
    assert awq_compatible(rtn(torch.randn(64, 96), 4, 64), 64)  # 96 % 64: a short group
    assert awq_compatible(rtn(torch.randn(64, 128), 3, 64), 64)  # AWQ gemm is 4-bit only


def test_example_configs_parse() -> None:
    from pathlib import Path

    from lmforge.config import load_config
    from lmforge.quant.config import GgufExportConfig, QuantizeConfig

    root = Path(__file__).parents[2] / "examples" / "quant"
    q = load_config(QuantizeConfig, root / "quantize.yaml")
    assert (q.method, q.bits, q.group_size) == ("gptq", 4, 128)
    e = load_config(GgufExportConfig, root / "export.yaml")
    assert e.type == "Q8_0"
    assert set(QuantizeConfig.model_fields) <= set(
        (root / "quantize.yaml").read_text().replace(":", " ").split()
    )
