"""Faults during a data run: kill -9 mid-run, disk full, a read-only output dir.

The kill lands at a point fixed by construction (right after the k-th shard marker is
written, from inside the process), so the test never depends on the machine's speed.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lmforge.data.config import DataConfig
from lmforge.data.executors import run_pipeline
from lmforge.errors import LMForgeError

KILL_AFTER_MARKERS = textwrap.dedent(
    """
    import json, os, signal, sys
    import lmforge.data.pipeline as pl
    from lmforge.data.config import DataConfig
    from lmforge.data.executors import run_pipeline

    cfg = DataConfig.model_validate(json.loads(sys.argv[1]))
    left = [int(sys.argv[2])]
    write = pl.atomic_write_json

    def write_then_die(path, data, *a, **kw):
        out = write(path, data, *a, **kw)
        if str(path).endswith(".done.json"):
            left[0] -= 1
            if left[0] == 0:
                os.kill(os.getpid(), signal.SIGKILL)
        return out

    pl.atomic_write_json = write_then_die
    run_pipeline(cfg, show_progress=False)
    """
)


def _outputs(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((out / "data").glob("*.jsonl"))}


def test_kill_9_mid_run_loses_no_finished_shard(tmp_path: Path, corpus_records, h) -> None:
    inputs = h.write_shards(tmp_path / "in", corpus_records, 4)
    raw = h.pipeline_cfg(inputs, tmp_path / "out")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_MARKERS, json.dumps(raw), "6"], env=env, timeout=300
    )
    assert r.returncode == -9  # killed, by construction after the 6th finished shard
    markers = sorted((tmp_path / "out" / "_work").rglob("*.done.json"))
    assert len(markers) == 6
    for m in markers:  # every marker is whole JSON, so every finished shard is intact
        json.loads(m.read_text())
    assert not list((tmp_path / "out").rglob("*.tmp"))  # no half-written file left visible
    before = {m: m.stat().st_mtime_ns for m in markers}
    run_pipeline(DataConfig.model_validate(raw), show_progress=False)  # the rerun resumes
    assert all(m.stat().st_mtime_ns == t for m, t in before.items())  # finished: not redone
    clean = h.pipeline_cfg(inputs, tmp_path / "clean")
    run_pipeline(DataConfig.model_validate(clean), show_progress=False)
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "clean")


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 64 KiB tmpfs: full after a few shards (needs root to mount; CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)])
    if r.returncode != 0:
        pytest.skip("mount -t tmpfs is not permitted here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_is_a_clear_error_and_nothing_half_written(
    small_fs: Path, tmp_path: Path, corpus_records, h
) -> None:
    inputs = h.write_shards(tmp_path / "in", corpus_records * 8, 4)
    cfg = DataConfig.model_validate(h.pipeline_cfg(inputs, small_fs / "out"))
    with pytest.raises(LMForgeError, match=r"(?i)no space left.*free space"):
        run_pipeline(cfg, show_progress=False)
    assert not [p for p in small_fs.rglob("*") if p.name.endswith(".tmp")]
    for p in small_fs.rglob("*.jsonl"):  # whatever was written is whole
        for line in p.read_text().splitlines():
            json.loads(line)


def test_read_only_output_dir_is_a_clear_error(small_fs: Path, tmp_path: Path, corpus_records, h):
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    inputs = h.write_shards(tmp_path / "in", corpus_records, 2)
    cfg = DataConfig.model_validate(h.pipeline_cfg(inputs, small_fs / "out"))
    with pytest.raises(LMForgeError, match=r"(?i)read-only"):
        run_pipeline(cfg, show_progress=False)
