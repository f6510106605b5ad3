"""`lmforge gateway report`: the ledger of a gateway run as rows (the command renders a table)."""

from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.gateway.accounting import LEDGER, load_ledger
from lmforge.runs import find_run, list_runs, runs_root


def ledger_path(run: str | None, runs_dir: str | Path | None) -> tuple[str, Path]:
    """(run id, ledger.json) of `run`, or of the latest gateway run."""
    if run is None:
        runs = [r for r in list_runs(runs_dir) if r["stage"] == "gateway"]
        if not runs:
            raise LMForgeError(
                f"no gateway runs under {runs_root(runs_dir)}; start one with lmforge gateway serve"
            )
        m = runs[-1]
    else:
        m = find_run(run, runs_dir)
    path = runs_root(runs_dir) / m["id"] / LEDGER
    if not path.is_file():
        raise LMForgeError(f"run {m['id']} has no {LEDGER} yet (no request was answered)")
    return m["id"], path


def rows(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (key, backend), then a total row."""
    out = []
    for ln in sorted(lines, key=lambda x: (x["key"], x["backend"])):
        n = ln["requests"]
        out.append(
            {
                "key": ln["key"],
                "backend": ln["backend"],
                "requests": n,
                "tokens_in": ln["tokens_in"],
                "tokens_out": ln["tokens_out"],
                "cost": ln["cost"],
                "mean_latency_ms": 1000 * ln["latency_s"] / max(1, n - ln["cache_hits"]),
                "cache_hits": ln["cache_hits"],
                "errors": ln["errors"],
            }
        )
    if out:
        total = {
            k: sum(r[k] for r in out)
            for k in ("requests", "tokens_in", "tokens_out", "cost", "cache_hits", "errors")
        }
        served = sum(ln["requests"] - ln["cache_hits"] for ln in lines)
        lat = sum(ln["latency_s"] for ln in lines)
        out.append(
            {"key": "TOTAL", "backend": "", **total, "mean_latency_ms": 1000 * lat / max(1, served)}
        )
    return out


def report_rows(run: str | None, runs_dir: str | Path | None) -> tuple[str, list[dict[str, Any]]]:
    run_id, path = ledger_path(run, runs_dir)
    return run_id, rows(load_ledger(path))
