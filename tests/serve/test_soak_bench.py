"""bench/soak.py, reduced: its mixed workload against the tiny server meets the soak targets."""

import importlib.util
import json
import logging
from pathlib import Path

from tests.serve.conftest import KEY, Running

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def _soak_module():
    spec = importlib.util.spec_from_file_location("bench_soak", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_soak_bench_mixed_requests_leave_nothing_behind(tiny_server: Running, capsys) -> None:
    soak = _soak_module()
    errors: list[str] = []  # uvicorn logs an exception that escaped a route here, not as a 5xx
    handler = logging.Handler(logging.ERROR)
    handler.emit = lambda r: errors.append(r.getMessage())  # type: ignore[method-assign]
    logging.getLogger("uvicorn.error").addHandler(handler)
    argv = ["--url", tiny_server.url, "--model", "tiny", "--api-key", KEY, "--requests", "120",
            "--concurrency", "16", "--warmup", "8"]  # fmt: skip
    try:
        rc = soak.main(argv)
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0, rep["failures"]
    assert not errors, errors[:3]  # e.g. a client hanging up on a non-streamed request
    assert rep["requests"] == 120 and rep["kv_blocks_used_idle"] == 0
    kinds = rep["kinds"]
    # every kind of the mix ran, the bad ones were all 4xx, and some streams were cut
    assert set(kinds) == set(soak.KINDS), sorted(kinds)
    assert all(400 <= int(s) < 500 for s in kinds["bad"]["status"])
    assert kinds["disconnect_stream"]["status"].get("dropped", 0) > 0
    assert kinds["tools"]["status"].get("200", 0) > 0
    tiny_server.wait_idle()
