"""`lmforge bench serve` against a real server: a table per level, a PNG, figures in the run."""

import json

from tests.serve.conftest import KEY, Running
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.errors import LMForgeError


def test_bench_serve_reports_levels_and_plot(tiny_server: Running, tmp_path, isolated_runs):
    png = tmp_path / "bench.png"
    args = [
        "bench",
        "serve",
        "--url",
        tiny_server.url,
        "--model",
        "tiny",
        "--api-key",
        KEY,
        "--concurrency",
        "1,3",
        "--requests",
        "3",
        "--max-tokens",
        "4",
        "--plot",
        str(png),
    ]
    out = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert "ttft_p50_ms" in out.output and "itl_p99_ms" in out.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads(next(isolated_runs.glob("bench-serve-*/manifest.json")).read_text())
    levels = manifest["metrics"]["levels"]
    assert [lv["concurrency"] for lv in levels] == [1, 3]
    assert all(lv["requests"] == 3 and lv["errors"] == 0 and lv["tok_per_s"] > 0 for lv in levels)
    tiny_server.wait_idle()


def test_bench_serve_refuses_non_loopback_targets():
    out = CliRunner().invoke(app, ["bench", "serve", "--url", "http://10.1.2.3:8000"])
    assert isinstance(out.exception, LMForgeError)
    assert "only targets loopback hosts" in str(out.exception)
