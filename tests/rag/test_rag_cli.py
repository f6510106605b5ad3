"""`lmforge rag` end to end through the CLI: index, query, ask (tiny LLM), errors, manifests."""

import json

from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.runs import list_runs

runner = CliRunner()


def test_index_query_ask_and_manifests(corpus, tmp_path, tiny_llama_dir):
    idx = str(tmp_path / "idx")
    r = runner.invoke(app, ["rag", "index", str(corpus), "--index", idx, "--chunker", "token"])
    assert r.exit_code == 0, r.output
    assert "skipped" in r.output and "broken.txt" in r.output and "5 added" not in r.output
    r = runner.invoke(app, ["rag", "query", "What do cats eat?", "--index", idx, "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert "fish" in rows[0]["text"] and rows[0]["headings"] == "Cats > Food"
    r = runner.invoke(
        app,
        [
            "rag",
            "ask",
            "What do cats eat?",
            "--index",
            idx,
            "--model",
            str(tiny_llama_dir),
            "--max-new-tokens",
            "4",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "answer:" in r.output and "cats.md" in r.output
    runs = list_runs()
    assert [x["status"] for x in runs] == ["succeeded"] * 3
    assert runs[0]["metrics"]["chunks"] > 0 and runs[0]["outputs"][0]["role"] == "index"
    assert runs[2]["metrics"]["grounded"] is True


def test_errors_are_one_line(tmp_path):
    r = runner.invoke(app, ["rag", "query", "x", "--index", str(tmp_path / "none")])
    assert r.exit_code != 0 and "no index here" in str(r.exception)
    r = runner.invoke(app, ["rag", "index", "--index", str(tmp_path / "i")])
    assert "nothing to index" in str(r.exception)
    r = runner.invoke(app, ["rag", "query", "x", "--retriever", "sparse"])
    assert "retriever" in str(r.exception)
