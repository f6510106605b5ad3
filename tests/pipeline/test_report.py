"""The HTML report, rendered by a real headless Chromium: every section shows, no console errors."""

import subprocess
from pathlib import Path

import pytest
from tests.browser import chromium, require_browser

from lmforge.config import StageConfig
from lmforge.pipeline.kinds import StageKind
from lmforge.pipeline.registry import register
from lmforge.pipeline.report import SECTIONS
from lmforge.pipeline.runner import run_pipeline


class Empty(StageConfig):
    label: str = ""


def fake_data(cfg, inputs, run):
    steps = {
        "read": {"in": 100, "kept": 100, "dropped": {}},
        "quality": {"in": 100, "kept": 80, "dropped": {"gopher_short": 15, "c4_curly": 5}},
        "near_dedup": {"in": 80, "kept": 70, "dropped": {"near_duplicate": 10}},
    }
    run.log_metrics(steps=steps)
    out = run.dir / "data.jsonl"
    out.write_text("{}\n")
    return {"train": out}


def fake_train(cfg, inputs, run):
    hist = [{"step": s, "loss": 3 / s, "eval_loss": 3.2 / s} for s in range(1, 11)]
    run.log_metrics(history=hist, train_loss=0.3)
    out = run.dir / "adapter"
    out.mkdir()
    (out / "w.bin").write_bytes(b"w")
    return {"adapter": out}


def fake_eval(cfg, inputs, run):
    base = cfg.label == "base"
    v = 0.2 if base else 0.35
    run.log_metrics(
        label=cfg.label,
        scores={
            "gsm8k/exact_match": {"value": v, "low": v - 0.05, "high": v + 0.05},
            "gpqa/acc_norm": {"value": 0.25, "low": 0.2, "high": 0.3},
        },
    )
    out = run.dir / "results.json"
    out.write_text("{}")
    return {"results": out}


def fake_rag(cfg, inputs, run):
    run.log_metrics(
        retrieval={
            "gsm8k": {
                "bm25": {"recall@1": 0.5, "ndcg@10": 0.6},
                "hybrid": {"recall@1": 0.6, "ndcg@10": 0.7},
            }
        }
    )
    out = run.dir / "rag.json"
    out.write_text("{}")
    return {"results": out}


def fake_serve(cfg, inputs, run):
    levels = [
        {
            "concurrency": c,
            "tok_per_s": 10.0 * c,
            "req_per_s": c / 2,
            "ttft_p50_ms": 50.0 * c,
            "ttft_p99_ms": 90.0 * c,
            "itl_p50_ms": 20.0 + c,
            "itl_p99_ms": 40.0 + c,
            "errors": 0,
        }
        for c in (1, 4, 16)
    ]
    run.log_metrics(levels=levels)
    out = run.dir / "bench.json"
    out.write_text("{}")
    return {"results": out}


for _name, _fn in (
    ("data", fake_data),
    ("train.sft", fake_train),
    ("eval", fake_eval),
    ("rag.eval", fake_rag),
    ("bench.serve", fake_serve),
):
    register(StageKind(f"test.{_name}", Empty, _fn))


@pytest.fixture
def report(tmp_path, monkeypatch) -> Path:
    # The report groups stages by kind; register fakes under the real kind names for this test.
    from lmforge.pipeline.registry import REGISTRY, get_kind

    for name in ("data", "train.sft", "eval", "rag.eval", "bench.serve"):
        monkeypatch.setitem(REGISTRY.kinds, name, get_kind(f"test.{name}"))
    p = tmp_path / "p.yaml"
    p.write_text(
        "name: report-demo\nstages:\n"
        "  - {name: curate, uses: data}\n"
        "  - {name: sft, uses: train.sft}\n"
        "  - {name: eval_base, uses: eval, config: {label: base}}\n"
        "  - {name: eval_tuned, uses: eval, config: {label: tuned}}\n"
        "  - {name: retrieval, uses: rag.eval}\n"
        "  - {name: serve_bench, uses: bench.serve}\n"
    )
    prun, _ = run_pipeline(p)
    path = prun.dir / "report.html"
    assert any(o["role"] == "report" for o in prun.manifest["outputs"])
    return path


def test_report_has_every_section_with_content(report):
    text = report.read_text()
    for key in SECTIONS:
        assert f"<section id='{key}'>" in text
    assert text.count("<svg") == 4  # funnel, loss curve, intervals, latency plot
    assert "gopher_short" in text and "near_duplicate" in text
    assert "gsm8k/exact_match" in text and "tuned" in text and "base" in text
    assert "hybrid" in text
    assert "class='empty'" not in text  # every section found its stage


def render(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from `page`, and the console messages it logged."""
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    return proc.stdout, console


def test_report_renders_in_headless_chromium(report, tmp_path):
    require_browser()
    dom, console = render(report, tmp_path / "profile")
    for key in SECTIONS:
        assert f'<section id="{key}">' in dom
    assert dom.count("<svg") == 4
    assert console == []


def test_console_errors_would_be_caught(tmp_path):
    """The check above can fail: a page that logs an error is seen doing so."""
    require_browser()
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><body><script>console.error('boom'); undefinedFn();</script></body></html>"
    )
    _, console = render(page, tmp_path / "profile")
    assert any("boom" in ln for ln in console) and any("undefinedFn" in ln for ln in console)
