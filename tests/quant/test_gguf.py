"""GGUF export: re-reads with gguf's reader, loads back into transformers exactly, and (when a
llama.cpp build is present) llama.cpp generates the same greedy tokens as lmforge."""

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType, GGUFReader
from transformers import AutoModelForCausalLM

from lmforge.engine import LLM, SamplingParams
from lmforge.errors import LMForgeError
from lmforge.quant.config import GgufExportConfig
from lmforge.quant.gguf_export import export_gguf

LLAMA_CPP = Path("/root/.cache/lmforge/llama.cpp-build/bin/llama-server")
needs_llama_cpp = pytest.mark.skipif(
    not LLAMA_CPP.is_file(), reason=f"no llama.cpp build at {LLAMA_CPP} (CI does not build it)"
)


def _export(model: Path | str, out: Path, kind: str) -> Path:
    export_gguf(GgufExportConfig(model=str(model), out=str(out), type=kind))
    return out


def _field(r: GGUFReader, key: str) -> object:
    return r.fields[key].contents()


@pytest.mark.parametrize("kind", ["F32", "F16", "Q8_0", "Q4_0"])
def test_gguf_reads_back_with_the_right_tensors(
    kind: str, tiny_llama_dir: Path, tmp_path: Path
) -> None:
    r = GGUFReader(_export(tiny_llama_dir, tmp_path / "m.gguf", kind))
    names = {t.name: t for t in r.tensors}
    per_layer = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm"]
    per_layer += ["ffn_gate", "ffn_up", "ffn_down"]
    want = {"token_embd.weight", "output_norm.weight"}
    want |= {f"blk.{i}.{n}.weight" for i in range(2) for n in per_layer}
    assert set(names) == want  # tied embeddings: no output.weight
    expect = {"F32": "F32", "F16": "F16", "Q8_0": "Q8_0", "Q4_0": "Q4_0"}[kind]
    assert names["blk.0.ffn_up.weight"].tensor_type == GGMLQuantizationType[expect]
    assert names["blk.0.attn_norm.weight"].tensor_type == GGMLQuantizationType.F32
    assert list(names["blk.1.attn_k.weight"].shape) == [64, 32]  # ggml order: [in, out]
    assert _field(r, "general.architecture") == "llama"
    assert _field(r, "llama.block_count") == 2
    assert _field(r, "llama.attention.head_count_kv") == 2
    assert _field(r, "tokenizer.ggml.model") == "gpt2"
    assert _field(r, "tokenizer.ggml.pre") == "gpt-2"
    tokens = _field(r, "tokenizer.ggml.tokens")
    assert len(tokens) == 512 and tokens[2] == "<|im_end|>"
    assert _field(r, "tokenizer.ggml.token_type")[2] == 3  # control
    assert len(_field(r, "tokenizer.ggml.merges")) > 100
    assert _field(r, "tokenizer.ggml.eos_token_id") == 2
    assert "im_start" in _field(r, "tokenizer.chat_template")


def test_f32_export_loads_into_transformers_exactly(tiny_llama_dir: Path, tmp_path: Path) -> None:
    out = _export(tiny_llama_dir, tmp_path / "m.gguf", "F32")
    src = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=out.name, dtype=torch.float32)
    ids = torch.randint(0, 512, (1, 48), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(src(ids).logits, back.eval()(ids).logits)  # the Q/K permutation inverts


def test_q8_export_is_close(tiny_llama_dir: Path, tmp_path: Path) -> None:
    out = _export(tiny_llama_dir, tmp_path / "m.gguf", "Q8_0")
    src = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=out.name, dtype=torch.float32)
    ids = torch.randint(0, 512, (1, 48), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = (src(ids).logits - back.eval()(ids).logits).abs().max().item()
    assert 0 < diff < 0.05


def test_quantized_checkpoint_exports(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from lmforge.quant.config import QuantizeConfig
    from lmforge.quant.load import load_dequantized
    from lmforge.quant.quantize import quantize_model

    q = tmp_path / "q"
    quantize_model(
        QuantizeConfig(model=str(tiny_llama_dir), method="rtn", group_size=32, out=str(q))
    )
    out = _export(q, tmp_path / "m.gguf", "F32")
    back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=out.name, dtype=torch.float32)
    ids = torch.randint(0, 512, (1, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = load_dequantized(q)(ids).logits
        assert (back.eval()(ids).logits - want).abs().max().item() < 1e-4


def test_unsupported_tokenizer_is_a_clear_error(tiny_llama_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny_llama_dir, d)
    tj = json.loads((d / "tokenizer.json").read_text())
    tj["model"]["byte_fallback"] = True
    (d / "tokenizer.json").write_text(json.dumps(tj))
    with pytest.raises(LMForgeError, match="byte-level BPE"):
        _export(d, tmp_path / "m.gguf", "F32")


@contextmanager
def llama_server(gguf: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(LLAMA_CPP), "-m", str(gguf), "--port", str(port), "-t", "1", "-c", "1024"]
    proc = subprocess.Popen([*cmd, "-np", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        else:
            raise AssertionError("llama-server did not come up")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def llama_cpp_greedy(url: str, ids: list[int], n: int) -> list[int]:
    body = {"prompt": ids, "n_predict": n, "temperature": 0, "return_tokens": True}
    body |= {"cache_prompt": False, "samplers": ["top_k"], "top_k": 1}
    req = urllib.request.Request(
        f"{url}/completion", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())["tokens"]


def lmforge_greedy(
    model: Path | str, prompts: list[list[int]], n: int
) -> tuple[list[list[int]], frozenset[int]]:
    """Greedy tokens, stopping at the end of turn as llama.cpp does (its ignore_eos masks EOS
    instead of generating past it, which would change the tokens after); also the EOS ids."""
    llm = LLM(str(model), kv_cache_gb=0.05, threads=1)
    outs = llm.generate(prompts, SamplingParams(max_tokens=n, temperature=0))
    return [o.token_ids for o in outs], llm.engine.eos


def _strip(runs: list[list[int]], eos: frozenset[int]) -> list[list[int]]:
    return [[t for t in r if t not in eos] for r in runs]


@needs_llama_cpp
def test_llama_cpp_generates_lmforge_tokens_tiny(tiny_llama_dir: Path, tmp_path: Path) -> None:
    out = _export(tiny_llama_dir, tmp_path / "m.gguf", "F32")
    rng = np.random.default_rng(0)
    prompts = [rng.integers(3, 512, 12).tolist() for _ in range(3)]
    ours, eos = lmforge_greedy(tiny_llama_dir, prompts, 16)
    with llama_server(out) as url:
        theirs = [llama_cpp_greedy(url, p, 16) for p in prompts]
    assert _strip(theirs, eos) == _strip(ours, eos)


@needs_llama_cpp
@pytest.mark.integration
def test_llama_cpp_generates_lmforge_tokens_default(
    default_model_dir: Path, tmp_path: Path
) -> None:
    out = _export(default_model_dir, tmp_path / "default.gguf", "F32")
    llm_tok = LLM(str(default_model_dir), kv_cache_gb=0.05, threads=1).tokenizer
    texts = ["The capital of France is", "def fibonacci(n):", "Janet has 3 apples and"]
    prompts = [llm_tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    ours, eos = lmforge_greedy(default_model_dir, prompts, 24)
    with llama_server(out) as url:
        theirs = [llama_cpp_greedy(url, p, 24) for p in prompts]
    assert _strip(theirs, eos) == _strip(ours, eos)
    assert sum(map(len, _strip(ours, eos))) >= 48  # real continuations, not an early stop
