"""Quantization benchmark: RTN vs AWQ vs GPTQ on the default model, through the engine.

    flock /tmp/lmforge-bench.lock python bench/quant.py [--threads 1] [--work DIR]

For fp32, RTN, AWQ and GPTQ at 4-bit and 3-bit, group 128: `lmforge quantize` time and peak RSS
(each in its own process), perplexity of the engine running the checkpoint (PackedInt4Linear)
on held GSM8K test text (records 1000+, disjoint from the calibration records at the start of
the same file), how much of RTN's perplexity rise AWQ/GPTQ recover (target >= 50%), and batch-1
decode tok/s through the engine next to the engine's own int8 and int4 (RTN g32) modes.
Checkpoints are kept in --work, so a rerun only measures.

`--mmlu N` scores MMLU-style accuracy per model through the eval stage (engine backend, the
shipped `mmlu_format` task: 5-shot, letters) on a seeded sample of N MMLU test questions
(bench/eval.py's file); accuracy needs no quiet box, so `--mmlu-only` runs just that, untimed,
into mmlu.json in --work, and the timed table run picks it up as a column.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from engine_peers import perplexity  # bench/ is on sys.path
from lmforge.engine import LLM, SamplingParams
from lmforge.quant.calib import DEFAULT_CALIB, read_texts

RUNS = [("rtn", 4), ("awq", 4), ("gptq", 4), ("rtn", 3), ("awq", 3), ("gptq", 3)]
HELD_FROM = 1000  # GSM8K test records from here on are held out; calibration reads from 0


def quantize(method: str, bits: int, out: Path, args: argparse.Namespace) -> dict[str, float]:
    """Run `lmforge quantize` in a child process: wall time and the child's peak RSS."""
    cmd = [sys.executable, "-m", "lmforge.cli", "quantize", "default", "--method", method]
    cmd += ["--bits", str(bits), "--group", str(args.group), "--out", str(out)]
    cmd += ["--n-samples", str(args.n_samples), "--seq-len", "256", "--threads", str(args.threads)]
    cmd += ["--runs-dir", str(args.work / "runs")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"quantize {method} {bits}-bit failed ({status}): {' '.join(cmd)}")
    return {"quantize_s": time.perf_counter() - t0, "peak_rss_mib": usage.ru_maxrss / 1024}


def decode_tps(llm: LLM, work: list[tuple[list[int], int]]) -> float:
    """Output tokens per second of greedy, fixed-length generation of `work` (prompt, length)."""
    params = [SamplingParams(max_tokens=o, temperature=0, ignore_eos=True) for _, o in work]
    t0 = time.perf_counter()
    outs = llm.generate([p for p, _ in work], params)
    return sum(len(o.token_ids) for o in outs) / (time.perf_counter() - t0)


def held_ids(tok: object, n: int) -> list[int]:
    ids: list[int] = []
    for text in read_texts(DEFAULT_CALIB, tok, skip=HELD_FROM):
        ids += tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        if len(ids) >= n:
            return ids[:n]
    raise SystemExit(f"held text has only {len(ids)} tokens")


def engine_ppl(llm: LLM, ids: list[int], window: int = 512) -> float:
    """Perplexity over consecutive windows (each a fresh context), token-weighted."""
    nll, count = 0.0, 0
    for s in range(0, len(ids) - 1, window):
        part = ids[s : s + window]
        if len(part) < 2:
            break
        nll += torch.log(torch.tensor(perplexity(llm, part))).item() * (len(part) - 1)
        count += len(part) - 1
    return float(torch.exp(torch.tensor(nll / count)))


def measure(name: str, llm: LLM, held: list[int], rows: dict[str, dict[str, float]]) -> None:
    rows.setdefault(name, {})["ppl"] = engine_ppl(llm, held)
    rows[name]["weights_mib"] = llm.engine.weight_bytes / 2**20
    print(f"  ppl {name}: {rows[name]['ppl']:.4f}", flush=True)


MODELS = ("fp32", "engine-int8", "engine-int4-g32", *(f"{m}{b}" for m, b in RUNS))


def engine_options(name: str) -> dict[str, object]:
    """LLM arguments of the engine's own modes (the checkpoints need none)."""
    return {
        "engine-int8": {"quantization": "int8"},
        "engine-int4-g32": {"quantization": "int4", "int4_group_size": 32},
    }.get(name, {})


def model_ref(name: str, args: argparse.Namespace) -> str | None:
    """The model path of a row, None for a checkpoint not made."""
    if name in ("fp32", "engine-int8", "engine-int4-g32"):
        return "default"
    path = args.work / f"{name}-g{args.group}"
    return str(path) if (path / "config.json").is_file() else None


def mmlu_scores(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Accuracy (and its bootstrap interval) of each made model on the same seeded sample."""
    from eval import mc_task  # bench/eval.py: MMLU test set as our mmlu JSONL
    from lmforge.eval.backends.engine import EngineBackend
    from lmforge.eval.runner import run_task
    from lmforge.eval.select import Selection

    out_file = args.work / "mmlu.json"
    out = json.loads(out_file.read_text()) if out_file.is_file() else {}
    select = Selection(None, None, args.mmlu, args.mmlu_seed, "subject")
    for name in MODELS:
        ref = model_ref(name, args)
        if name == "engine-int4-g32":  # its fp32-activation prefill path would take hours
            continue
        if ref is None or out.get(name, {}).get("n") == args.mmlu:
            continue
        backend = EngineBackend(ref, batch_size=8, engine_options=engine_options(name))
        t0 = time.perf_counter()
        res = run_task(mc_task("mmlu"), backend, None, 1000, 0.95, 0, select)
        acc = res["scores"]["acc"]
        out[name] = {"acc": acc["value"], "low": acc["low"], "high": acc["high"]}
        out[name].update(n=args.mmlu, seed=args.mmlu_seed, seconds=time.perf_counter() - t0)
        print(f"  mmlu {name}: {acc['value']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}]")
        out_file.write_text(json.dumps(out, indent=2))
        del backend
    return out


def awq_layer_check(layers: tuple[int, ...] = (2, 15, 28), tokens: int = 1024) -> None:
    """AWQ's scale search per linear group on real activations: output error of RTN, of the best
    plain scale (mean|x|^a) and of the best AutoAWQ duo scale (mean|x|^a / mean|w|^(1-a))."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lmforge.models.loader import resolve_model_dir
    from lmforge.quant.grid import fake_quant_groups, grouped

    src = resolve_model_dir("default")
    tok = AutoTokenizer.from_pretrained(src)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
    ids: list[int] = []
    for text in read_texts(DEFAULT_CALIB, tok):
        ids += tok(text, add_special_tokens=False)["input_ids"]
        if len(ids) >= tokens:
            break
    caps: dict[str, torch.Tensor] = {}
    groups = {}
    for i in layers:
        lay = model.model.layers[i]
        a, m = lay.self_attn, lay.mlp
        groups[f"{i}.qkv"] = (a.q_proj, [a.q_proj, a.k_proj, a.v_proj])
        groups[f"{i}.gate_up"] = (m.gate_proj, [m.gate_proj, m.up_proj])
        groups[f"{i}.down"] = (m.down_proj, [m.down_proj])
    for key, (lead, _) in groups.items():
        lead.register_forward_hook(lambda _m, inp, _o, key=key: caps.__setitem__(key, inp[0][0]))
    with torch.no_grad():
        model(torch.tensor([ids[:tokens]]))
    for key, (_, mods) in groups.items():
        w, x = torch.cat([m.weight.float() for m in mods]), caps[key]
        ref, x_mean = x @ w.T, x.abs().mean(0)
        wg = grouped(w.abs(), 128)
        w_mean = (wg / wg.amax(-1, keepdim=True).clamp(min=1e-8)).flatten(1)[:, : w.shape[1]]
        err = {}
        for duo in (False, True):
            for i in range(20):
                s = x_mean.pow(i / 20) / ((w_mean.mean(0).pow(1 - i / 20) + 1e-4) if duo else 1)
                s = s.clamp(min=1e-4)
                s = s / (s.max() * s.min()).sqrt()
                q = fake_quant_groups(w * s, 4, 128) / s
                err[duo, i] = (x @ q.T - ref).pow(2).mean().item()
        rtn, plain = err[False, 0], min(v for (d, _), v in err.items() if not d)
        duo = min(v for (d, _), v in err.items() if d)
        print(f"  layer {key:<10} rtn {rtn:.3e}  plain {plain / rtn:.3f}x  duo {duo / rtn:.3f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lmforge-bench-quant"))
    ap.add_argument("--group", type=int, default=128)
    ap.add_argument("--n-samples", type=int, default=32)
    ap.add_argument("--held-tokens", type=int, default=4096)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--quantize-only", action="store_true", help="Make the checkpoints, stop.")
    ap.add_argument("--awq-check", action="store_true", help="AWQ scale-search errors, stop.")
    ap.add_argument("--only", default="", help="Comma-separated runs to quantize (rtn4,awq3..).")
    ap.add_argument("--mmlu", type=int, default=0, help="MMLU questions per model (0: none).")
    ap.add_argument("--mmlu-seed", type=int, default=0)
    ap.add_argument("--mmlu-only", action="store_true", help="Only the MMLU column, untimed.")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.awq_check:
        return awq_layer_check()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"threads={args.threads} loadavg={Path('/proc/loadavg').read_text().split()[:3]}")
    if args.mmlu_only:
        mmlu_scores(args)
        return
    stats_file = args.work / f"quantize-g{args.group}.json"
    rows: dict[str, dict[str, float]] = (
        json.loads(stats_file.read_text()) if stats_file.is_file() else {}
    )
    only = set(filter(None, args.only.split(",")))
    for method, bits in RUNS:
        name, out = f"{method}{bits}", args.work / f"{method}{bits}-g{args.group}"
        if only and name not in only:
            continue
        if not (out / "config.json").is_file():
            stat = quantize(method, bits, out, args)
            stat["loadavg"] = float(Path("/proc/loadavg").read_text().split()[0])
            # parallel --only runs share the file: merge with what is there now
            rows = json.loads(stats_file.read_text()) if stats_file.is_file() else {}
            rows[name] = stat
            stats_file.write_text(json.dumps(rows, indent=2))
            print(
                f"  quantized {name}: {rows[name]['quantize_s']:.0f} s, "
                f"peak RSS {rows[name]['peak_rss_mib']:.0f} MiB",
                flush=True,
            )
    if args.quantize_only:
        return
    engines = {"fp32": LLM("default", kv_cache_gb=0.1, threads=args.threads)}
    tok = engines["fp32"].tokenizer
    held = held_ids(tok, args.held_tokens)
    measure("fp32", engines["fp32"], held, rows)
    for name in MODELS[1:]:  # loaded one by one: a run still quantizing may finish meanwhile
        ref = model_ref(name, args)
        if ref is None:  # a run not made yet is left out of the table
            continue
        opts, t0 = engine_options(name), time.perf_counter()
        engines[name] = LLM(ref, kv_cache_gb=0.1, threads=args.threads, **opts)
        if opts:  # the engine's own modes quantize at load: that load is their quantize time
            rows.setdefault(name, {})["quantize_s"] = time.perf_counter() - t0
        if name == "engine-int4-g32":
            # The engine's own int4 (fp32 activations) takes the kernel's slow path on long
            # prefills: its perplexity is bench/engine.py's; here it is a decode-speed peer only.
            rows.setdefault(name, {})["ppl"] = float("nan")
            rows[name]["weights_mib"] = engines[name].engine.weight_bytes / 2**20
        else:
            measure(name, engines[name], held, rows)
    one = [(held[:64], args.decode_tokens)]
    tps: dict[str, list[float]] = {k: [] for k in engines}
    for _ in range(2):  # alternate peers: A B C ... A B C
        for name, llm in engines.items():
            tps[name].append(decode_tps(llm, one))
    for name in engines:
        rows[name]["decode_tps"] = max(tps[name])
    print(f"\nloadavg after: {Path('/proc/loadavg').read_text().split()[:3]}")
    fp = rows["fp32"]["ppl"]
    mmlu_file = args.work / "mmlu.json"
    mmlu = mmlu_scores(args) if args.mmlu else {}
    if not mmlu and mmlu_file.is_file():
        mmlu = json.loads(mmlu_file.read_text())
    print(
        f"\n{'model':<16}{'ppl':>9}{'vs fp32':>9}{'recovers':>10}{'weights':>10}{'tok/s':>8}"
        f"{'quant s':>9}{'peak MiB':>10}{'MMLU':>7}{'95% CI':>14}"
    )
    for name in engines:
        r = rows[name]
        bits = name[-1] if name[-1].isdigit() else None
        rec = ""
        if bits and not name.startswith(("rtn", "engine", "fp")):
            base = rows.get(f"rtn{bits}", {}).get("ppl", float("nan"))
            r["recovered"] = (base - r["ppl"]) / (base - fp) if base > fp else float("nan")
            rec = f"{r['recovered']:.0%}"
        print(
            f"{name:<16}{r['ppl']:9.4f}{r['ppl'] / fp - 1:+9.2%}{rec:>10}"
            f"{r['weights_mib']:9.1f}M{r['decode_tps']:8.1f}"
            f"{r.get('quantize_s', float('nan')):9.0f}{r.get('peak_rss_mib', float('nan')):10.0f}"
            + (
                f"{mmlu[name]['acc']:7.3f}  [{mmlu[name]['low']:.3f}, {mmlu[name]['high']:.3f}]"
                if name in mmlu
                else ""
            )
        )
        if name in mmlu:
            r["mmlu"] = mmlu[name]
    (args.work / "results.json").write_text(json.dumps(rows, indent=2))
    print(
        f"\nheld {len(held)} tokens; decode {args.decode_tokens} tokens batch 1, best of 2; "
        f"median tok/s over all: {statistics.median(max(v) for v in tps.values()):.1f}; "
        f"self peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
