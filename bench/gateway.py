"""Benchmark `lmforge gateway`: proxy overhead, semantic cache, cascade cost/quality.

    .venv/bin/python bench/gateway.py --part overhead --rate 200 --requests 1000 --rounds 3
    .venv/bin/python bench/gateway.py --part cache
    .venv/bin/python bench/gateway.py --part cascade --items 120

overhead: `gateway_overhead.py` (mock upstream, gateway and load generator in three
processes); cache: `gateway_cache.py`; cascade: `gateway_cascade.py`. Results go into a run
directory.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["overhead", "cache", "cascade"], default="overhead")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--items", type=int, default=120)
    ap.add_argument("--no-live", action="store_true", help="cascade: skip the live route run")
    ap.add_argument("--connections", type=int, default=32, help="overhead: keep-alive pool")
    ap.add_argument("--runs-dir", default=None)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from lmforge.runs import start_run

    load0 = Path("/proc/loadavg").read_text().split()[:3]
    with start_run(f"bench-gateway-{a.part}", vars(a), a.runs_dir) as run:
        if a.part == "overhead":
            from gateway_overhead import run_overhead

            res = run_overhead(a.rate, a.requests, a.rounds, a.connections)
        elif a.part == "cache":
            from gateway_cache import run_cache_bench

            res = run_cache_bench()
        else:
            from gateway_cascade import run_cascade

            res = run_cascade(a.items, 0, run.dir, live=not a.no_live)
            run.add_output(res["plot"], role="plot")
        res["loadavg_before_after"] = [load0, Path("/proc/loadavg").read_text().split()[:3]]
        res["threads"] = 1
        (run.dir / "results.json").write_text(json.dumps(res, indent=1, default=str))
        run.add_output(run.dir / "results.json", role="results")
    print(json.dumps(res, indent=1, default=str))
    print(f"run {run.id}")


if __name__ == "__main__":
    main()
