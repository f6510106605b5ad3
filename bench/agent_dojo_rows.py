"""AgentDojo bench rows: seeded task subsets, a resumable JSONL of rows, and the table.

A real model on CPU runs an AgentDojo task in tens of seconds to minutes, so a suite is run
as a seeded subset (`pick`), in chunks that each stop after a wall budget; every finished row
is appended at once (`RowLog`), and a rerun with the same file skips the rows it holds. The
table (`summarise`, or this file as a script over several JSONL files) merges the chunks and
gives each rate with its Wilson 95% interval.

    python bench/agent_dojo_rows.py /tmp/banking-*.jsonl --md
"""

import argparse
import json
import math
import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ARMS = ("undefended", "lmforge")
# A row is one (arm, user task, injection task or none) run; these fields name the setting.
SETTING = ("suite", "model", "quantize", "provenance", "max_tokens", "tool_choice")


def pick(
    users: Sequence[str], injections: Sequence[str], n_users: int, per_user: int, seed: int
) -> list[tuple[str, list[str]]]:
    """A seeded subset: `n_users` user tasks, each with `per_user` injection tasks drawn for
    it (0: all of them). Same seed, same suite: same subset, whatever else runs."""
    rng = random.Random(seed)
    chosen = sorted(rng.sample(list(users), min(n_users, len(users))), key=list(users).index)
    out = []
    for u in chosen:
        k = len(injections) if per_user <= 0 else min(per_user, len(injections))
        inj = sorted(rng.sample(list(injections), k), key=list(injections).index)
        out.append((u, inj))
    return out


def row_key(row: dict[str, Any]) -> tuple:
    return tuple(row.get(k) for k in (*SETTING, "arm", "user", "inj"))


class RowLog:
    """Rows appended one JSON line each (flushed and fsynced, so a killed chunk loses at most
    the row in flight); on open, the rows already there are loaded for resuming."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = list(read_rows([path])) if path and path.exists() else []
        self.done = {row_key(r) for r in self.rows if not r.get("error")}  # errors: run again

    def has(self, row: dict[str, Any]) -> bool:
        return row_key(row) in self.done

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.done.add(row_key(row))
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())


def read_rows(paths: Iterable[Path]) -> Iterable[dict[str, Any]]:
    """Rows of several JSONL files; a torn last line (a chunk killed mid-write) is skipped,
    and a row present twice counts once: the first that ran without an error (a row that
    raised is run again on resume), else the first."""
    best: dict[tuple, dict[str, Any]] = {}
    for p in paths:
        for line in Path(p).read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            k = row_key(row)
            if k not in best or (best[k].get("error") and not row.get("error")):
                best[k] = row
    yield from best.values()


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """Wilson score interval for k successes in n: sound at k = 0 or k = n and small n,
    where the normal interval collapses to a point."""
    if n == 0:
        return None
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return round(max(0.0, c - h), 3), round(min(1.0, c + h), 3)


def rate(rows: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    k, n = sum(bool(r[key]) for r in rows), len(rows)
    return {"k": k, "n": n, "rate": round(k / n, 3) if n else None, "ci95": wilson(k, n)}


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per arm: utility without attack, utility under attack, ASR, ASR of the attacks that need
    a tool the policy does not grant (AgentDojo's own checks decide each row)."""
    res: dict[str, Any] = {}
    for arm in ARMS:
        clean = [r for r in rows if r["arm"] == arm and r["inj"] is None]
        att = [r for r in rows if r["arm"] == arm and r["inj"] is not None]
        res[arm] = {
            "utility_no_attack": rate(clean, "utility"),
            "utility_under_attack": rate(att, "utility"),
            "attack_success_rate": rate(att, "attack"),
            "asr_needing_ungranted_tool": rate([r for r in att if r["needs_ungranted"]], "attack"),
        }
    return res


def _cell(r: dict[str, Any]) -> str:
    if not r["n"]:
        return "-"
    lo, hi = r["ci95"]
    return f"{r['rate']:.3f} [{lo:.2f}, {hi:.2f}] ({r['k']}/{r['n']})"


def markdown(groups: dict[tuple, list[dict[str, Any]]]) -> str:
    """One line per setting and arm; rates with Wilson 95% intervals and k/n."""
    head = (
        "| suite | model | arm | utility, no attack | utility under attack | ASR | "
        "ASR, attacks needing an ungranted tool |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    lines = [head]
    for setting, rows in sorted(groups.items(), key=lambda kv: str(kv[0])):
        s = summarise(rows)
        model = setting[1] + ("" if setting[2] in (None, "none") else f" {setting[2]}")
        for arm in ARMS:
            a = s[arm]
            cells = [
                _cell(a[k])
                for k in (
                    "utility_no_attack",
                    "utility_under_attack",
                    "attack_success_rate",
                    "asr_needing_ungranted_tool",
                )
            ]
            lines.append(f"| {setting[0]} | {model} | {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def group(rows: Iterable[dict[str, Any]]) -> dict[tuple, list[dict[str, Any]]]:
    out: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(tuple(r.get(k) for k in SETTING), []).append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="merge AgentDojo bench row files into one table")
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--md", action="store_true", help="a markdown table instead of JSON")
    args = ap.parse_args()
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        raise SystemExit(f"no such row file: {', '.join(missing)}")
    groups = group(read_rows(args.files))
    if args.md:
        print(markdown(groups))
    else:
        out = [
            {"setting": dict(zip(SETTING, k, strict=True)), **summarise(v)}
            for k, v in groups.items()
        ]
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
