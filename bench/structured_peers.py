"""Mask engines head to head: llguidance (lmforge's) vs xgrammar and outlines-core, no model.

    flock /tmp/lmforge-bench.lock python bench/structured_peers.py [--every 1] [--out FILE]

On the default model's tokenizer and the 204 schemas of bench/structured_schemas.py, each
library (one thread each) compiles every schema from scratch, then replays one token path per
schema: the path llguidance walks when it always takes the longest allowed token (a stand-in
for a model that writes in long tokens; at most 48 tokens, the same ids for every library).
Per token it times "fill the next-token bitmask" + "accept the token", which is the work the
engine adds to each decode step. All three emit the same JSON layout (", " and ": ", no free
whitespace); a schema a library cannot compile, or a path token it rejects, is counted, not
timed.

Peers are bench-only and optional (`pip install --no-deps xgrammar==0.2.8
apache-tvm-ffi==0.1.15.post2 outlines-core==0.2.14`: xgrammar's triton pin is for GPU kernels
only); a missing one is reported as skipped.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from lmforge.engine.constraint import Compiler
from lmforge.engine.sampling_params import SamplingParams
from structured_schemas import suite

PATH_LEN = 48


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[int(q * (len(xs) - 1))], 3) if xs else float("nan")


def words(vocab: int) -> int:
    return (vocab + 31) // 32


def allowed(bitmask: torch.Tensor, vocab: int) -> torch.Tensor:
    bits = (bitmask[0].unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
    return bits.bool().flatten()[:vocab]


class LLG:
    name = "llguidance"

    def __init__(self, tok: Any, vocab: int, eos: int) -> None:
        self.c = Compiler(tok, vocab, frozenset([eos]))
        self.c.ll_tokenizer  # noqa: B018 - the tokenizer wrap, built before any timing
        self.bm = torch.empty(1, words(self.c.ll_tokenizer.vocab_size), dtype=torch.int32)

    def compile(self, schema: dict) -> Any:
        return self.c.compile(SamplingParams(json_schema=schema))

    def fill(self, m: Any) -> None:
        m.unsafe_compute_mask_ptr(self.bm.data_ptr(), self.bm.numel() * 4)

    def accept(self, m: Any, t: int) -> bool:
        return m.consume_token(t)


class XGrammar:
    name = "xgrammar"

    def __init__(self, tok: Any, vocab: int, eos: int) -> None:
        import xgrammar as xgr

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=vocab, stop_token_ids=[eos])
        self.gc = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
        self.bm = xgr.allocate_token_bitmask(1, vocab)

    def compile(self, schema: dict) -> Any:
        g = self.gc.compile_json_schema(
            json.dumps(schema), any_whitespace=False, separators=(", ", ": ")
        )
        return self.xgr.GrammarMatcher(g)

    def fill(self, m: Any) -> None:
        m.fill_next_token_bitmask(self.bm)

    def accept(self, m: Any, t: int) -> bool:
        return m.accept_token(t)


class Outlines:
    name = "outlines-core"

    def __init__(self, tok: Any, vocab: int, eos: int, ll: Any) -> None:
        import outlines_core as oc

        self.oc = oc
        table: dict[bytes, list[int]] = {}
        for i in range(ll.vocab_size):
            if i != eos and not ll.is_special_token(i):
                table.setdefault(ll.decode_bytes([i]), []).append(i)
        table.pop(b"", None)
        self.vocab = oc.Vocabulary(eos, table)
        self.bm = torch.empty(1, words(vocab), dtype=torch.int32)

    def compile(self, schema: dict) -> Any:
        regex = self.oc.json_schema.build_regex_from_schema(json.dumps(schema), r"[ ]?")
        return self.oc.Guide(self.oc.Index(regex, self.vocab))

    def fill(self, m: Any) -> None:
        m.write_mask_into(self.bm.data_ptr(), self.bm.numel(), 4)

    def accept(self, m: Any, t: int) -> bool:
        try:
            m.advance(t, return_tokens=False)
            return True
        except ValueError:
            return False


def paths(llg: LLG, schemas: list, tok_len: torch.Tensor) -> list[list[int]]:
    """Per schema: the longest-allowed-token walk through llguidance's mask."""
    out = []
    vocab = tok_len.shape[0]
    for s in schemas:
        m, path = llg.compile(s), []
        while len(path) < PATH_LEN and not m.is_stopped():
            llg.fill(m)
            ok = allowed(llg.bm, vocab)
            if not ok.any():
                break
            t = int(torch.where(ok, tok_len, -1).argmax())
            if not m.consume_token(t):
                break
            path.append(t)
        out.append(path)
    return out


def measure(lib: Any, schemas: list, token_paths: list[list[int]]) -> dict[str, Any]:
    compile_ms, step_us, failed, rejected = [], [], [], 0
    for (name, s, _), path in zip(schemas, token_paths, strict=True):
        t = time.perf_counter()
        try:
            m = lib.compile(s)
        except Exception as e:  # a peer's unsupported schema is a count, not a crash
            failed.append(f"{name}: {str(e)[:80]}")
            continue
        compile_ms.append(1000 * (time.perf_counter() - t))
        for tok in path:
            t = time.perf_counter()
            lib.fill(m)
            ok = lib.accept(m, tok)
            step_us.append(1e6 * (time.perf_counter() - t))
            if not ok:
                rejected += 1
                break
    return {
        "compiled": len(compile_ms),
        "failed": len(failed),
        "failed_examples": failed[:3],
        "compile_p50_ms": pct(compile_ms, 0.5),
        "compile_p95_ms": pct(compile_ms, 0.95),
        "tokens_timed": len(step_us),
        "paths_rejected": rejected,
        "mask_accept_p50_us": pct(step_us, 0.5),
        "mask_accept_mean_us": round(statistics.mean(step_us), 1) if step_us else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--every", type=int, default=1, help="take every n-th schema of the suite")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    from transformers import AutoTokenizer

    from lmforge.models.loader import resolve_model_dir

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(resolve_model_dir(a.model))
    vocab, eos = len(tok), tok.eos_token_id
    schemas = suite()[:: a.every]
    llg = LLG(tok, vocab, eos)
    ll = llg.c.ll_tokenizer
    tok_len = torch.tensor([len(ll.decode_bytes([i])) for i in range(vocab)])
    token_paths = paths(llg, [s for _, s, _ in schemas], tok_len)
    res: dict[str, Any] = {
        "schemas": len(schemas),
        "path_tokens": sum(map(len, token_paths)),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }
    makers = {
        "llguidance": lambda: llg,
        "xgrammar": lambda: XGrammar(tok, vocab, eos),
        "outlines-core": lambda: Outlines(tok, vocab, eos, ll),
    }
    for name, make in makers.items():
        try:
            lib = make()
        except ImportError as e:
            res[name] = {"skipped": str(e)}
            continue
        res[name] = measure(lib, schemas, token_paths)
        print(name, json.dumps(res[name]), flush=True)
    base = res["llguidance"]
    for name in ("xgrammar", "outlines-core"):
        r = res[name]
        if "skipped" not in r and r["compiled"]:
            r["compile_p95_vs_llguidance"] = round(r["compile_p95_ms"] / base["compile_p95_ms"], 2)
            r["mask_p50_vs_llguidance"] = round(
                r["mask_accept_p50_us"] / base["mask_accept_p50_us"], 2
            )
    res["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(res, indent=1))
    if a.out:
        tmp = a.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(res, indent=1))
        tmp.replace(a.out)


if __name__ == "__main__":
    main()
