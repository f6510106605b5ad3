"""The start-up kernel probe: flags decide where bf16 is native, a micro-benchmark elsewhere,
config/env force a path; both paths generate and agree with the fp32 path on the engine."""

from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS, make_engine

from lmforge.engine import LLMEngine, SamplingParams, cpu
from lmforge.engine.quant import Int4Linear, Int8Linear
from lmforge.errors import LMForgeError


def test_native_bf16_flags_pick_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu.ENV, raising=False)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: ("avx2", "avx512f", "avx512_bf16"))
    got = cpu.choose("int4")
    assert got.act_dtype == torch.bfloat16 and "avx512_bf16" in got.reason


def test_avx2_only_machine_measures_and_picks_the_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    """An AVX2-only box (as some of this project's machines are) takes whichever path its own
    micro-benchmark says is faster; here the measurement is faked both ways."""
    monkeypatch.delenv(cpu.ENV, raising=False)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: ("avx2",))
    monkeypatch.setattr(cpu, "measure", lambda mode: (1.0, 10.0))  # bf16 emulated, 10x slower
    slow_bf16 = cpu.choose("int8")
    assert slow_bf16.act_dtype == torch.float32 and "no bf16 units" in slow_bf16.reason
    monkeypatch.setattr(cpu, "measure", lambda mode: (3.0, 1.0))
    assert cpu.choose("int8").act_dtype == torch.bfloat16


def test_measure_times_both_dtypes_of_the_real_kernel() -> None:
    fp32_s, bf16_s = cpu.measure("int4", k=128, n=64)
    assert fp32_s > 0 and bf16_s > 0


def test_force_by_config_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu, "cpu_flags", lambda: ("avx512_bf16",))
    monkeypatch.delenv(cpu.ENV, raising=False)
    assert cpu.choose("int8", "fp32").act_dtype == torch.float32
    monkeypatch.setenv(cpu.ENV, "fp32")
    assert cpu.choose("int8").act_dtype == torch.float32
    assert cpu.choose("int8", "bf16").act_dtype == torch.bfloat16  # config beats env
    monkeypatch.setenv(cpu.ENV, "fast")
    with pytest.raises(LMForgeError, match=r"LMFORGE_CPU_KERNELS.*auto, bf16, fp32.*'fast'"):
        cpu.choose("int8")


def test_cpu_flags_reads_proc_cpuinfo() -> None:
    flags = cpu.cpu_flags()
    assert isinstance(flags, tuple) and set(flags) <= set(cpu.FLAGS)


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_both_kernel_paths_match_dequantized_fp32_logits(
    tiny_qwen2_dir: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine level: the bf16-activation and fp32-activation paths of torch's kernels give
    next-token logits close to each other, and to the same weights run dequantized in fp32."""
    monkeypatch.setenv("LMFORGE_QGEMM", "torch")  # ours: tests/engine/test_kernels.py
    engines = {
        k: make_engine(tiny_qwen2_dir, quantization=mode, cpu_kernels=k) for k in ("bf16", "fp32")
    }
    assert engines["bf16"].kernels.act_dtype == torch.bfloat16
    for lin in engines["bf16"].model.modules():
        if isinstance(lin, (Int8Linear, Int4Linear)):
            assert lin.act_dtype == torch.bfloat16
    deq = make_engine(tiny_qwen2_dir, quantization=mode, cpu_kernels="fp32")
    _dequantize(deq.model)
    ids = deq.tokenizer.encode(PROMPTS[3])
    logits = {k: _prefill_logits(e, ids) for k, e in {**engines, "deq": deq}.items()}
    scale = logits["deq"].abs().max()
    assert (logits["fp32"] - logits["deq"]).abs().max() < 1e-4 * scale
    assert (logits["bf16"] - logits["deq"]).abs().max() < 0.03 * scale
    assert logits["bf16"].argmax() == logits["deq"].argmax()


def _dequantize(model: torch.nn.Module) -> None:
    """Replace packed layers by fp32 Linears holding their dequantized weights: int8 from its
    codes and scales; int4 read back through the fp32 kernel on the identity matrix."""
    for parent in list(model.modules()):
        for name, q in list(parent.named_children()):
            if isinstance(q, Int8Linear):
                w = q.qweight.float() * q.scales.float()[:, None]
            elif isinstance(q, Int4Linear):
                q.set_act_dtype(torch.float32)
                k = q.scales_zeros.shape[0] * q.group_size
                w = (q(torch.eye(k)) - (q.bias if q.bias is not None else 0)).T
            else:
                continue
            lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=q.bias is not None)
            lin.weight.data = w.contiguous()
            if q.bias is not None:
                lin.bias.data = q.bias.data
            setattr(parent, name, lin)


def _prefill_logits(engine: LLMEngine, ids: list[int]) -> torch.Tensor:
    from lmforge.engine.attention import AttnMeta, PrefillSpan

    n, s = len(ids), engine.model.spec
    nb = -(-n // 16)
    shape = (nb, 16, s.num_kv_heads, s.head_dim)
    kv = [(torch.zeros(shape), torch.zeros(shape)) for _ in range(s.num_layers)]
    meta = AttnMeta(torch.arange(n), [], [PrefillSpan(0, n, 0, torch.arange(nb))])
    with torch.inference_mode():
        return engine.model.logits(engine.model(torch.tensor(ids), torch.arange(n), meta, kv))[-1]


def test_forced_fp32_path_generates(tiny_qwen2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu.ENV, "fp32")  # the AVX2 fallback, forced on any machine
    e = make_engine(tiny_qwen2_dir, quantization="int4")
    assert e.kernels.act_dtype == torch.float32 and e.kernels.reason == "forced fp32"
    rid = e.add_request(PROMPTS[0], SamplingParams(max_tokens=6, temperature=0, ignore_eos=True))
    out = None
    while e.has_unfinished():
        out = next((o for o in e.step() if o.request_id == rid and o.finished), out)
    assert out is not None and len(out.token_ids) == 6
