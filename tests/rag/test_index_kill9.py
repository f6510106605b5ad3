"""kill -9 during an index build: the live index is untouched, finished embedding batches are
kept, and the rerun resumes from them. The kill is fixed by construction (inside the third
embedding call), not by timing."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.index import build_index
from lmforge.rag.store import CURRENT, LocalStore

KILL_IN_THIRD_ENCODE = textwrap.dedent(
    """
    import json, os, signal, sys
    from lmforge.rag.config import RagConfig
    from lmforge.rag.embed import Embedder
    from lmforge.rag.index import build_index

    calls = [0]
    encode = Embedder.encode

    def encode_then_die(self, texts, *a, **kw):
        calls[0] += 1
        if calls[0] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return encode(self, texts, *a, **kw)

    Embedder.encode = encode_then_die
    build_index(RagConfig.model_validate(json.loads(sys.argv[1])), Embedder())
    """
)


def _docs(d: Path) -> Path:
    d.mkdir()
    for i in range(24):
        (d / f"note-{i:02d}.txt").write_text(f"Note {i}: the {i}th shipment of tea reached port.\n")
    return d


def test_kill_9_mid_build_keeps_batches_and_the_rerun_resumes(tmp_path: Path) -> None:
    docs = _docs(tmp_path / "docs")
    raw = {"docs": [str(docs)], "index": str(tmp_path / "idx"), "batch_size": 1}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-c", KILL_IN_THIRD_ENCODE, json.dumps(raw)], env=env, timeout=300
    )
    assert r.returncode == -9
    idx = tmp_path / "idx"
    assert not (idx / CURRENT).exists()  # no half-built generation became current
    assert len(list((idx / ".pending").rglob("*.npz"))) == 2  # the two finished batches

    embedder = Embedder()
    report = build_index(RagConfig.model_validate(raw), embedder)
    assert report.resumed == 8 and report.embedded == 24 - 8  # 2 batches of 4 not redone
    assert not (idx / ".pending").exists()
    clean = {**raw, "index": str(tmp_path / "clean")}
    build_index(RagConfig.model_validate(clean), embedder)
    a, b = LocalStore(idx).contents(), LocalStore(tmp_path / "clean").contents()
    assert a.hashes == b.hashes
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-6)
