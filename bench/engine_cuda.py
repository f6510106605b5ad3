"""The engine on a CUDA GPU: greedy and scoring parity against transformers on the same GPU,
then bench/engine.py's throughput, TTFT and batch-1 sections there, in one prepared run.

    python bench/engine_cuda.py --config DIR --out OUT [--model DIR] [--sizes 135m,1.5b]

A GPU is lent to this project for minutes at a time, with no model hub and a 64 MiB limit on
what travels, so the default model's weights (98 MB GGUF, 538 MB fp32) cannot go along. The
model is then the default model's own config and tokenizer (`--config`) with seeded random
weights: the same shapes, kernels and bytes per token, so the speed figures hold, and parity
is exact arithmetic agreement, not quality. `--model` runs real weights where they are at hand.
`1.5b` is a Llama of Qwen2.5-1.5B's shapes over the same tokenizer, where a GPU stops being
launch-bound. Every step prints as it goes and writes its figures to OUT, so a run cut short
still reports what it finished.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
# Qwen2.5-1.5B's transformer shapes (its config.json), as a Llama over SmolLM2's vocabulary.
SHAPES = {
    "tiny": {  # a dry run of this script on a CPU (tests/bench)
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
    },
    "135m": {},
    "1.5b": {
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "head_dim": 128,
    },
}
TEXT = (
    "The engine schedules requests in blocks of sixteen tokens, and every block of the key and "
    "value cache is shared by the sequences whose prompts begin with the same tokens. A request "
    "that arrives while others decode is prefilled in the same step, up to the token budget."
)


def random_model(config_dir: Path, shape: str, out: Path, seed: int = 0) -> Path:
    """The config's architecture at `shape` with seeded random fp32 weights, saved as an HF dir."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    cfg = AutoConfig.from_pretrained(config_dir)
    for k, v in SHAPES[shape].items():
        setattr(cfg, k, v)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(config_dir).save_pretrained(out)
    return out


def prompts(tok: Any, n: int) -> list[list[int]]:
    """n prompts of 8..8+6n tokens cut from one text, so lengths differ across the batch."""
    ids = tok(TEXT * 4, add_special_tokens=False)["input_ids"]
    return [ids[i : i + 8 + 6 * i] for i in range(n)]


def hf_greedy(model: Any, ps: list[list[int]], new: int) -> tuple[list[list[int]], list[float]]:
    """transformers' greedy continuation of each prompt alone (no padding), and the log
    probability of its first chosen token."""
    toks, lps = [], []
    with torch.inference_mode():
        for p in ps:
            ids = torch.tensor([p], device=model.device)
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                output_logits=True,  # raw: `scores` has EOS masked by min_new_tokens
                return_dict_in_generate=True,
                pad_token_id=0,
            )
            seq = out.sequences[0, len(p) :].tolist()
            first = torch.log_softmax(out.logits[0][0].float(), -1)[seq[0]]
            toks.append(seq)
            lps.append(float(first))
    return toks, lps


def hf_loglik(model: Any, ctx: list[int], cont: list[int]) -> float:
    """Sum of log P(cont | ctx) from one full forward pass over ctx + cont."""
    ids = torch.tensor([ctx + cont], device=model.device)
    with torch.inference_mode():
        logp = torch.log_softmax(model(ids).logits[0].float(), -1)
    pos = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1, device=model.device)
    return float(logp[pos, torch.tensor(cont, device=model.device)].sum())


def common_prefix(a: list[int], b: list[int]) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def parity(model_dir: Path, dtype: str, device: str, n: int, new: int) -> dict[str, Any]:
    """Engine vs transformers at one dtype on one device: greedy tokens and MC loglikelihoods."""
    from transformers import AutoModelForCausalLM

    from lmforge.engine import LLM, SamplingParams

    td = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    llm = LLM(str(model_dir), device=device, dtype=dtype, kv_cache_gb=1.0)
    ps = prompts(llm.tokenizer, n)
    sp = SamplingParams(max_tokens=new, temperature=0, ignore_eos=True, logprobs=1)
    outs = llm.generate(ps, sp)
    ours = [list(o.token_ids) for o in outs]
    our_lp = [float(o.logprobs[0]) for o in outs]
    ctx, conts = ps[-1], [p[:5] for p in ps[:4]]
    scores = llm.score([(ctx, conts)])[0]
    del llm
    hf = AutoModelForCausalLM.from_pretrained(model_dir, dtype=td).to(device).eval()
    theirs, their_lp = hf_greedy(hf, ps, new)
    ll = [hf_loglik(hf, ctx, c) for c in conts]
    del hf
    prefix = [common_prefix(a, b) for a, b in zip(ours, theirs, strict=True)]
    return {
        "dtype": dtype,
        "prompts": n,
        "new_tokens": new,
        "identical": sum(a == b for a, b in zip(ours, theirs, strict=True)),
        "mean_common_prefix": sum(prefix) / n,
        "first_token_logprob_max_diff": max(
            abs(a - b) for a, b in zip(our_lp, their_lp, strict=True)
        ),
        "mc_loglik_max_diff": max(abs(s.logprob - x) for s, x in zip(scores, ll, strict=True)),
        "mc_same_argmax": max(range(len(ll)), key=lambda i: scores[i].logprob)
        == max(range(len(ll)), key=lambda i: ll[i]),
    }


class Steps:
    """Runs parts in order, prints each result or error and goes on; every result lands in one
    OUT/results.json (the device returns few files), and parts past the deadline are skipped."""

    def __init__(self, out: Path, budget_s: float) -> None:
        self.out, self.deadline, self.results = out, time.monotonic() + budget_s, {}

    def __call__(self, name: str, fn: Any) -> Any:
        print(f"\n== {name}", flush=True)
        if time.monotonic() > self.deadline:
            res: Any = {"skipped": "past --budget-s"}
        else:
            t0 = time.perf_counter()
            try:
                res = fn()
            except Exception as e:  # a failed part is reported; the run goes on
                import traceback

                traceback.print_exc()
                res = {"error": f"{type(e).__name__}: {e}"}
            if isinstance(res, dict):
                res["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(res, indent=1), flush=True)
        self.results[name] = res
        tmp = self.out / "results.json.tmp"
        tmp.write_text(json.dumps(self.results, indent=1))
        tmp.replace(self.out / "results.json")
        return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, help="HF dir with config.json and tokenizer")
    ap.add_argument("--model", type=Path, default=None, help="real weights (HF dir) instead")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--sizes", default="135m,1.5b")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument(
        "--bench-sections",
        default="throughput,ttft,batch1;throughput",
        help="bench/engine.py sections per size, ';'-separated ('' skips the bench)",
    )
    ap.add_argument("--quick", action="store_true", help="bench/engine.py --quick")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--budget-s", type=float, default=420, help="skip parts that start later")
    args = ap.parse_args()
    assert args.config or args.model, "give --config (random weights) or --model"
    args.out.mkdir(parents=True, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 parity means fp32 arithmetic
    dev, step = args.device, Steps(args.out, args.budget_s)
    info = {"torch": torch.__version__, "python": sys.version.split()[0]}
    if dev == "cuda":
        info |= {
            "gpu": torch.cuda.get_device_name(),
            "capability": list(torch.cuda.get_device_capability()),
        }
    step("info", lambda: info)
    root = HERE.parent
    path = [str(root / "src"), str(HERE), os.environ.get("PYTHONPATH", "")]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in path if p)}
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "lmforge-cuda"
    sizes = args.sizes.split(",") if not args.model else ["real"]
    sections = (args.bench_sections.split(";") * len(sizes))[: len(sizes)]
    for size, sec in zip(sizes, sections, strict=True):
        mdir = args.model or work / size
        if not args.model and not (mdir / "config.json").exists():
            step(
                f"model-{size}",
                lambda s=size, m=mdir: {"dir": str(random_model(args.config, s, m))},
            )
        for dtype in ("float32", "bfloat16"):
            step(
                f"parity-{size}-{dtype}",
                lambda m=mdir, d=dtype: parity(m, d, dev, args.prompts, args.new_tokens),
            )
        if sec:
            cmd = [sys.executable, str(HERE / "engine.py"), "--model", str(mdir)]
            cmd += ["--device", dev, "--no-build", "--modes", "fp32", "--sections", sec]
            cmd += ["--out", str(args.out / f"bench-{size}.json")]
            cmd += ["--quick"] if args.quick else []
            step(f"bench-{size}", lambda c=cmd: {"exit": subprocess.run(c, env=env).returncode})
    if not args.skip_tests:
        test = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        test += ["tests/engine/test_device.py"]
        step("tests", lambda: {"exit": subprocess.run(test, cwd=root, env=env).returncode})


if __name__ == "__main__":
    main()
