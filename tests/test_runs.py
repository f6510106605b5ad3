import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lmforge.config import QuickstartConfig
from lmforge.errors import LMForgeError
from lmforge.runs import find_run, list_runs, load_manifest, start_run


def test_successful_run_manifest(isolated_runs, tmp_path):
    data = tmp_path / "in.txt"
    data.write_text("hello")
    with start_run("train", QuickstartConfig(), command=["lmforge", "x"]) as run:
        run.add_input(data)
        run.log_metrics(loss=1.5)
        run.time("step_s", 0.25)
        out = run.dir / "out.txt"
        out.write_text("result")
        run.add_output(out)
        assert json.loads((run.dir / "manifest.json").read_text())["status"] == "running"
    m = load_manifest(run.dir)
    assert run.dir.parent == isolated_runs
    assert run.id.startswith("train-") and m["stage"] == "train"
    assert m["status"] == "succeeded" and m["error"] is None
    assert m["command"] == ["lmforge", "x"]
    assert m["config"]["max_new_tokens"] == 128 and m["config"]["pipeline"] is None
    assert m["inputs"][0]["sha256"] == (
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    )
    assert m["outputs"][0]["path"].endswith("out.txt")
    assert m["metrics"] == {"loss": 1.5}
    assert m["timings"]["step_s"] == 0.25 and m["timings"]["total_s"] >= 0
    assert {"python", "torch", "transformers", "lmforge"} <= set(m["versions"])
    assert m["finished_at"] is not None
    assert not [p for p in run.dir.iterdir() if p.name.endswith(".tmp")]


def test_exception_marks_failed(isolated_runs):
    with pytest.raises(ValueError), start_run("data") as run:
        raise ValueError("bad shard")
    m = load_manifest(run.dir)
    assert m["status"] == "failed" and m["error"] == "ValueError: bad shard"


def test_ctrl_c_marks_failed(isolated_runs):
    with pytest.raises(KeyboardInterrupt), start_run("data") as run:
        raise KeyboardInterrupt
    assert load_manifest(run.dir)["error"] == "interrupted by Ctrl-C"


def test_lineage_links_input_to_producing_run(isolated_runs, tmp_path):
    with start_run("data") as producer:
        out = tmp_path / "clean.jsonl"
        out.write_text('{"text": "x"}\n')
        producer.add_output(out)
    with start_run("train") as consumer:
        consumer.add_input(out, role="dataset")
    m = load_manifest(consumer.dir)
    assert m["inputs"][0]["produced_by"] == producer.id
    assert m["inputs"][0]["role"] == "dataset"


SCRIPT = textwrap.dedent(
    """
    import sys, time, os
    from lmforge.runs import start_run
    with start_run("serve") as run:
        print(run.dir, flush=True)
        if sys.argv[1] == "kill":
            os.kill(os.getpid(), 9)
        time.sleep(60)
    """
)


def _spawn(mode, isolated_runs):
    env = {**os.environ, "LMFORGE_RUNS_DIR": str(isolated_runs)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, mode], stdout=subprocess.PIPE, text=True, env=env
    )
    run_dir = proc.stdout.readline().strip()
    return proc, run_dir


def test_killed_process_reads_as_failed(isolated_runs):
    proc, run_dir = _spawn("kill", isolated_runs)
    proc.wait(timeout=30)
    m = load_manifest(Path(run_dir))
    assert m["status"] == "failed" and "process exited without finishing" in m["error"]


def test_sigterm_marks_failed_and_exits(isolated_runs):
    proc, run_dir = _spawn("wait", isolated_runs)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    m = json.loads((Path(run_dir) / "manifest.json").read_text())
    assert m["status"] == "failed" and "SystemExit" in m["error"]


def test_list_and_find(isolated_runs):
    assert list_runs() == []
    with start_run("eval") as a:
        pass
    with start_run("eval") as b:
        pass
    # Runs started within one second list in start order, not by their random id suffix.
    more = []
    for _ in range(5):
        with start_run("eval") as r:
            more.append(r.id)
    assert [r["id"] for r in list_runs()] == [a.id, b.id, *more]
    assert find_run(a.id)["id"] == a.id
    assert find_run(b.id[-6:])["id"] == b.id  # the random suffix is enough
    with pytest.raises(LMForgeError, match="ambiguous"):
        find_run("eval-")
    with pytest.raises(LMForgeError, match="no run 'zzz'"):
        find_run("zzz")
