"""End to end: `lmforge agent run` against a real `lmforge serve` on a tiny model, and the
router (rule and constrained-classifier) on the same server."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.serve.conftest import KEY, Running, start_server, tiny_cfg
from typer.testing import CliRunner

from lmforge.agent.config import AgentConfig, RouterConfig
from lmforge.agent.router import Router
from lmforge.cli import app
from lmforge.models.tiny import make_tiny_model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> Iterator[Running]:
    path = make_tiny_model(
        "llama", tmp_path_factory.mktemp("tiny-agent"), tiny_tokenizer, max_position_embeddings=2048
    )
    r = start_server(tiny_cfg(path, kv_cache_gb=0.05))
    yield r
    r.stop()


def test_cli_run_against_lmforge_serve(server: Running, tmp_path: Path) -> None:
    guard = tmp_path / "guard.yaml"
    off = {"classifier": {"enabled": False}}
    guard.write_text(yaml.safe_dump({"input": off, "context": off}))
    agent = {
        "base_url": server.url + "/v1",
        "api_key": KEY,
        "model": "tiny",
        "tools": ["files"],
        "policy": {"files": {}},
        "workspace": str(tmp_path / "ws"),
        "tool_choice": "required",  # the random model must emit a (constrained) call
        "max_steps": 2,
        "max_new_tokens": 48,
        "guard": {"policy": str(guard)},
    }
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({"agent": agent}))
    runs = tmp_path / "runs"
    res = CliRunner().invoke(
        app, ["agent", "run", "-c", str(cfg), "list files", "--runs-dir", str(runs)]
    )
    assert res.exit_code == 0, res.output
    (run_dir,) = runs.iterdir()
    ev = [json.loads(x) for x in (run_dir / "trace.jsonl").read_text().splitlines()]
    assert ev[0]["event"] == "start" and ev[0]["tools"] == ["files"] and ev[-1]["event"] == "stop"
    called = [e for e in ev if e["event"] == "tool_call"]
    assert called and all(e["name"] == "files" for e in called)
    assert all(
        e["event"] in ("tool_result", "refused")
        for e in ev
        if e.get("step") and e["event"] not in ("model", "tool_call")
    )
    man = json.loads((run_dir / "manifest.json").read_text())
    assert man["status"] == "succeeded" and man["metrics"]["tool_calls"] == len(called)
    assert man["metrics"]["stop_reason"] in ("max_steps", "policy", "max_tokens")


def test_router_rule_then_classifier(server: Running) -> None:
    base = {"base_url": server.url + "/v1", "api_key": KEY, "model": "tiny"}
    agents = {"math": AgentConfig(**base), "docs": AgentConfig(**base)}
    cfg = RouterConfig(
        routes=[
            {"agent": "math", "pattern": r"\d+\s*[-+*/]\s*\d+", "description": "arithmetic"},
            {"agent": "docs", "description": "questions about the documents"},
        ],
        classifier="llm",
        default="docs",
    )
    r = Router(cfg, agents)
    assert r.pick("what is 12 * 7?") == ("math", r"rule /\d+\s*[-+*/]\s*\d+/")
    name, why = r.pick("who wrote the report?")
    assert name in agents and why in ("classifier", "classifier gave no route; default")
