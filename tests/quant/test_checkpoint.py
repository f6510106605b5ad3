"""Quantized checkpoints: the engine runs them as their dequantized fp32 model does, the
configs parse with transformers' own AWQ/GPTQ config classes, and a rerun resumes per layer."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from lmforge.engine.attention import AttnMeta, PrefillSpan
from lmforge.engine.loader import load_llama
from lmforge.errors import LMForgeError
from lmforge.quant.config import QuantizeConfig
from lmforge.quant.load import (
    CheckpointInt4Linear,
    PackedInt4Linear,
    int4_activation_dtype,
    own_kernels,
    unpack_checkpoint,
)
from lmforge.quant.quantize import quantize_model
from lmforge.quant.state import LayerState


def _quantize(src: Path, out: Path, **kw: object) -> Path:
    kw = {"n_samples": 8, "seq_len": 32, "batch_size": 4, "group_size": 32, **kw}
    quantize_model(QuantizeConfig(model=str(src), out=str(out), **kw))
    return out


def _dequantized_hf(path: Path) -> torch.nn.Module:
    """The checkpoint as a plain fp32 transformers model (our unpacking, no kernels)."""
    cfg = AutoConfig.from_pretrained(path)
    tensors = load_file(path / "model.safetensors")
    unpack_checkpoint(cfg, tensors)
    del cfg.quantization_config
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    missing = model.load_state_dict(tensors, strict=False).missing_keys
    assert set(missing) <= {"lm_head.weight"}  # tied
    return model.eval()


def _engine_logits(path: Path, ids: torch.Tensor) -> tuple[torch.Tensor, set[type]]:
    """The engine's logits for `ids`, and the layer types it ran the checkpoint's codes with."""
    ours, _ = load_llama(path, 512, torch.float32)
    kinds = {type(lay.self_attn.qkv_proj) for lay in ours.layers}
    kinds |= {type(lay.mlp.down_proj) for lay in ours.layers}
    assert kinds <= {CheckpointInt4Linear, PackedInt4Linear}
    n = ids.shape[0]
    kv = [(torch.zeros(3, 16, 2, 16), torch.zeros(3, 16, 2, 16)) for _ in range(2)]
    meta = AttnMeta(torch.arange(n), [], [PrefillSpan(0, n, 0, torch.arange(3))])
    with torch.inference_mode():
        return ours.logits(ours(ids, torch.arange(n), meta, kv)), kinds


CASES = [
    ("llama", {"method": "rtn"}, "gptq"),
    ("llama", {"method": "awq"}, "awq"),
    ("llama", {"method": "gptq"}, "gptq"),
    ("qwen2", {"method": "gptq", "sym": True}, "gptq"),
    ("qwen2", {"method": "awq"}, "awq"),
    ("llama", {"method": "gptq", "bits": 3, "group_size": 64}, "gptq"),
]


@pytest.fixture(params=["fp32", "bf16"])
def activations(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both kernel paths, whichever this machine's probe would pick."""
    monkeypatch.setenv("LMFORGE_CPU_KERNELS", request.param)
    int4_activation_dtype.cache_clear()
    yield request.param
    int4_activation_dtype.cache_clear()


@pytest.mark.parametrize(("arch", "kw", "fmt"), CASES)
def test_engine_matches_dequantized_model(
    arch: str,
    kw: dict,
    fmt: str,
    activations: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    src: Path = request.getfixturevalue(f"tiny_{arch}_dir")
    out = _quantize(src, tmp_path / "q", **kw)
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    assert qc["quant_method"] == fmt
    ids = torch.randint(0, 500, (40,), generator=torch.Generator().manual_seed(0))
    want = _dequantized_hf(out)(ids[None]).logits[0]
    got, kinds = _engine_logits(out, ids)
    if kw["method"] != "gptq":  # contiguous groups: our kernels wherever they run
        assert kinds == {CheckpointInt4Linear if own_kernels(64, 64) else PackedInt4Linear}
    if CheckpointInt4Linear in kinds:  # our kernels quantize activations to int8 at few rows
        assert (got - want).abs().max().item() < 0.1
        assert (got.argmax(-1) == want.argmax(-1)).float().mean() >= 0.95
    elif activations == "fp32":
        assert (got - want).abs().max().item() < 2e-3
    else:  # bf16 activations: 8 mantissa bits, the same argmax
        assert (got - want).abs().max().item() < 0.1
        assert (got.argmax(-1) == want.argmax(-1)).float().mean() >= 0.95
    base = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
    assert (base(ids[None]).logits[0] - want).abs().max().item() > 1e-3  # it did quantize


def test_transformers_parses_the_configs(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from transformers.utils.quantization_config import AwqConfig, GPTQConfig

    awq = _quantize(tiny_llama_dir, tmp_path / "awq", method="awq")
    gptq = _quantize(tiny_llama_dir, tmp_path / "gptq", method="gptq", sym=True)
    a = AwqConfig.from_dict(json.loads((awq / "config.json").read_text())["quantization_config"])
    assert (a.bits, a.group_size, a.zero_point, a.format) == (4, 32, True, "gemm")
    qc = json.loads((gptq / "config.json").read_text())["quantization_config"]
    g = GPTQConfig.from_dict(qc)
    assert (g.bits, g.group_size, g.desc_act, g.sym) == (4, 32, True, True)
    assert qc["checkpoint_format"] == "gptq"  # symmetric: v1, zero - 1 stored
    t = load_file(gptq / "model.safetensors")
    assert t["model.layers.0.self_attn.q_proj.qweight"].shape == (64 * 4 // 32, 64)
    assert t["model.layers.0.mlp.down_proj.g_idx"].shape == (128,)


def test_rerun_resumes_after_a_crash(
    tiny_llama_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _quantize(tiny_llama_dir, tmp_path / "whole", method="gptq")
    save = LayerState.save

    def crash_after_first(self: LayerState, i: int, *a: object) -> None:
        save(self, i, *a)
        if i == 0:
            raise KeyboardInterrupt

    monkeypatch.setattr(LayerState, "save", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        _quantize(tiny_llama_dir, tmp_path / "part", method="gptq")
    assert (tmp_path / "part/.lmforge-quant/layer-00000.safetensors").is_file()
    monkeypatch.setattr(LayerState, "save", save)
    with pytest.raises(LMForgeError, match="other settings"):
        _quantize(tiny_llama_dir, tmp_path / "part", method="gptq", bits=3)
    done = []
    monkeypatch.setattr(
        "lmforge.quant.quantize.gptq_layer",
        lambda *a, _f=__import__("lmforge.quant.quantize").quant.quantize.gptq_layer: (
            done.append(1) or _f(*a)
        ),
    )
    _quantize(tiny_llama_dir, tmp_path / "part", method="gptq")
    assert len(done) == 1  # only layer 1 was quantized again
    a, b = load_file(whole / "model.safetensors"), load_file(tmp_path / "part/model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "part/.lmforge-quant").exists()


def test_bad_calibration_data_names_the_fix(tiny_llama_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"foo": 1}\n')
    with pytest.raises(LMForgeError, match=r"c\.jsonl:1: record has none of text"):
        _quantize(tiny_llama_dir, tmp_path / "q", method="gptq", calib=str(bad))


def test_awq_searches_every_layer_on_float_activations(
    tiny_llama_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AutoAWQ's order: layer i+1's scales are searched on the float model's activations, not on
    the output of layer i already rounded (which fits its scales to upstream rounding noise)."""
    from lmforge.quant import quantize as q
    from lmforge.quant.calib import calibration_blocks

    seen: list[torch.Tensor] = []
    search = q.awq_layer
    monkeypatch.setattr(
        q, "awq_layer", lambda lay, h, kw, cfg: seen.append(torch.cat(h)) or search(lay, h, kw, cfg)
    )
    _quantize(tiny_llama_dir, tmp_path / "a", method="awq")
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    blocks = calibration_blocks(QuantizeConfig(out="x").calib, tok, 8, 32)
    with torch.no_grad():
        states = base(blocks, output_hidden_states=True).hidden_states
    assert len(seen) == 2
    torch.testing.assert_close(seen[1], states[1], rtol=1e-4, atol=1e-4)
