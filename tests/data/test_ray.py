"""The Ray Data executor runs the same pipeline and writes byte-identical outputs."""

from pathlib import Path

import pytest

from lmforge.data.config import DataConfig
from lmforge.data.executors import run_pipeline

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_matches_local(tmp_path: Path, corpus_records, h) -> None:
    inputs = h.write_shards(tmp_path / "in", corpus_records, 3)
    outs = {}
    for kind in ("local", "ray"):
        raw = h.pipeline_cfg(inputs, tmp_path / kind, split={"val_fraction": 0.2})
        raw["executor"] = {"kind": kind, "workers": 2 if kind == "ray" else 1}
        _, stats = run_pipeline(DataConfig.model_validate(raw), show_progress=False)
        outs[kind] = stats
    assert {k: (v["in"], v["kept"], v["dropped"]) for k, v in outs["local"].items()} == {
        k: (v["in"], v["kept"], v["dropped"]) for k, v in outs["ray"].items()
    }
    for sub in ("train", "val", "rejected"):
        local = sorted(p.name for p in (tmp_path / "local" / sub).iterdir())
        assert local and local == sorted(p.name for p in (tmp_path / "ray" / sub).iterdir())
        for name in local:
            assert (tmp_path / "local" / sub / name).read_bytes() == (
                tmp_path / "ray" / sub / name
            ).read_bytes()
