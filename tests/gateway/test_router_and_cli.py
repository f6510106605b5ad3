"""train-router from eval runs, the router cascade, the semantic cache on the shipped set, the
report command and the GGUF-parts helper."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.gateway.conftest import chat
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.errors import ModelLoadError
from lmforge.gateway.accounting import LEDGER, Ledger
from lmforge.gateway.router_model import load_router
from lmforge.runs import start_run

runner = CliRunner()
EASY = ["say hello to {}", "greet {} warmly", "wave at {}", "write a short hi note to {}"]
HARD = ["integrate x^{} from 0 to 7", "factor the polynomial x^{} - 1", "prove {} is irrational"]


def eval_results(path: Path, cheap: bool) -> Path:
    items = []
    for i in range(60):
        hard = i % 2 == 1
        tpl = HARD[i % 3] if hard else EASY[i % 4]
        prompt = tpl.format(i)
        right = (not hard) if cheap else True
        items.append({"id": str(i), "prompt": prompt, "scores": {"exact_match": float(right)}})
    results = {"meta": {"run_id": path.name}, "tasks": {"t": {"items": items}}}
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps(results))
    return path


@pytest.fixture(scope="module")
def embed():
    from lmforge.gateway.server import make_embedder

    return make_embedder()


def test_train_router_cli_then_router_cascade(tmp_path, isolated_runs, mock, mock2, gateway, embed):
    cheap = eval_results(tmp_path / "cheap-run", cheap=True)
    strong = eval_results(tmp_path / "strong-run", cheap=False)
    out = tmp_path / "router"
    r = runner.invoke(
        app,
        [
            "gateway",
            "train-router",
            "--cheap",
            str(cheap),
            "--strong",
            str(strong),
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    router = load_router(out)
    assert router.meta["task"] == "t" and router.meta["metric"] == "exact_match"
    vecs = embed(["say hello to Ann", "integrate x^3 from 0 to 7"])
    p_easy, p_hard = router.prob(vecs)
    assert p_easy > 0.5 > p_hard
    (s1, u1), (_, u2) = mock, mock2
    cfg = {
        "backends": [
            {"name": "a", "kind": "openai", "url": u1},
            {"name": "b", "kind": "openai", "url": u2},
        ],
        "models": [
            {
                "name": "m",
                "policy": "cascade",
                "signal": "router",
                "router": str(out),
                "backends": ["a", "b"],
                "threshold": 0.5,
            }
        ],
    }
    g = gateway(cfg, embed=embed)
    c = g.client()
    assert (
        c.post("/chat/completions", json=chat("say hello to Bo")).headers["x-lmforge-backend"]
        == "a"
    )
    hard = c.post("/chat/completions", json=chat("factor the polynomial x^9 - 1"))
    assert hard.headers["x-lmforge-backend"] == "b" and s1.calls == 1  # no cheap call paid


def test_train_router_errors_are_one_line(tmp_path, isolated_runs):
    cheap = eval_results(tmp_path / "c", cheap=False)  # cheap always right: nothing to learn
    strong = eval_results(tmp_path / "s", cheap=False)
    r = runner.invoke(
        app, ["gateway", "train-router", "--cheap", str(cheap), "--strong", str(strong)]
    )
    assert r.exit_code != 0 and "right on all items or on none" in str(r.exception)
    r = runner.invoke(
        app,
        [
            "gateway",
            "train-router",
            "--cheap",
            str(cheap),
            "--strong",
            str(strong),
            "--task",
            "nope",
        ],
    )
    assert "task 'nope' is not in both runs" in str(r.exception)


def test_shipped_semantic_set_zero_false_hits(embed):
    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    from gateway_cache import load_pairs, run_cache_bench

    pairs = load_pairs()
    assert sum(p["kind"] == "near_miss" for p in pairs) >= 200
    res = run_cache_bench()
    for split in ("dev", "test"):
        assert res["splits"][split]["near_miss_false_hits"] == 0
        assert res["splits"][split]["paraphrase_hit_rate"] > 0.15  # measured, not the 60% goal


def test_semantic_hit_through_the_gateway(mock, gateway, embed):
    st, url = mock
    cfg = {
        "backends": [{"name": "m", "kind": "openai", "url": url}],
        "cache": {"semantic": True, "semantic_threshold": 0.8},
    }
    c = gateway(cfg, embed=embed).client()
    q = chat("What is the capital of France?", temperature=0)
    assert c.post("/chat/completions", json=q).headers["x-lmforge-cache"] == "miss"
    hit = c.post(
        "/chat/completions", json=chat("What is the capital city of France?", temperature=0)
    )
    assert (
        hit.headers["x-lmforge-cache"] == "semantic"
        and hit.json()["lmforge"]["cache"] == "semantic"
    )
    miss = c.post("/chat/completions", json=chat("What is the capital of Spain?", temperature=0))
    assert miss.headers["x-lmforge-cache"] == "miss" and st.calls == 2


def test_report_command_reads_the_latest_ledger(isolated_runs):
    r = runner.invoke(app, ["gateway", "report"])
    assert "no gateway runs" in str(r.exception)
    with start_run("gateway", {"x": 1}) as run:
        led = Ledger()
        led.bill("team-a", "small", 100, 20, 0.5, 0.2)
        led.bill("team-a", "small", 50, 10, 0.25, 0.4)
        led.cache_hit("team-a")
        led.save(run.dir)
    assert (run.dir / LEDGER).is_file()
    r = runner.invoke(app, ["gateway", "report"])
    assert r.exit_code == 0 and f"lmforge gateway report: {run.id}" in r.output, r.output
    from lmforge.gateway.report import report_rows

    run_id, rows = report_rows(None, None)
    assert run_id == run.id and [x["backend"] for x in rows] == ["cache", "small", ""]
    small, total = rows[1], rows[2]
    assert (small["requests"], small["tokens_in"], small["cost"]) == (2, 150, 0.75)
    assert small["mean_latency_ms"] == pytest.approx(300.0)
    assert (total["key"], total["requests"], total["cache_hits"]) == ("TOTAL", 3, 1)


def test_assemble_gguf_from_part_packages(tmp_path, monkeypatch):
    from lmforge.models import parts

    chunks = [b"GGUF\x03\x00", b"rest-of", b"-the-file"]
    dirs = {}
    for i, data in enumerate(chunks, 1):
        d = tmp_path / f"pkg{i}"
        (d / "data").mkdir(parents=True)
        (d / "data" / f"part{i:02d}.bin").write_bytes(data)
        dirs[f"fake_part{i}"] = d
    monkeypatch.setenv("LMFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(parts, "package_dir", lambda name: dirs.get(name))
    out = parts.assemble_gguf("fake_part", 3, "m.gguf")
    assert out.read_bytes() == b"".join(chunks)
    assert parts.assemble_gguf("fake_part", 3, "m.gguf") == out  # cached
    with pytest.raises(ModelLoadError, match="fake-part4 is not installed"):
        parts.assemble_gguf("fake_part", 4, "n.gguf")
    dirs["fake_part1"] = dirs["fake_part2"]  # wrong order -> no magic
    with pytest.raises(ModelLoadError, match="GGUF magic"):
        parts.assemble_gguf("fake_part", 3, "bad.gguf")
    assert not list((tmp_path / "cache" / "models" / "parts").glob(".bad*"))
    assert np.isfinite(out.stat().st_size)
