"""Run a pipeline: stage by stage, tasks on local processes or Ray Data, barriers on the driver.

Both executors run the same `Pipeline.run_task` on the same (stage, shard) tasks, so they write
the same files; they differ only in where a task runs. Paths are made absolute first because
Ray workers do not share the driver's working directory.
"""

import contextlib
import json
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from rich.progress import Progress

from lmforge.data.config import DataConfig
from lmforge.data.pipeline import Pipeline, StepStats
from lmforge.extras import require
from lmforge.runs import Run

_CACHE: dict[str, Pipeline] = {}


def _pipeline(cfg_json: str) -> Pipeline:
    """One Pipeline per config per process, so step resources load once per worker."""
    if cfg_json not in _CACHE:
        _CACHE[cfg_json] = Pipeline(DataConfig.model_validate_json(cfg_json))
    return _CACHE[cfg_json]


def _task(cfg_json: str, stage: int, shard: int) -> dict[str, Any]:
    return _pipeline(cfg_json).run_task(stage, shard)


def absolute(cfg: DataConfig) -> DataConfig:
    """The config with input paths/globs and the output folder made absolute."""
    out = cfg.model_copy(deep=True)
    out.input.paths = [str(Path(p).absolute()) for p in cfg.input.paths]
    out.output.dir = str(Path(cfg.output.dir).absolute())
    return out


def workers_of(cfg: DataConfig) -> int:
    return cfg.executor.workers or multiprocessing.cpu_count()


def map_local(
    cfg_json: str,
    stage: int,
    shards: list[int],
    pool: ProcessPoolExecutor | None,
    tick: Callable[[], None],
) -> list[dict[str, Any]]:
    """Tasks on the process pool, or in this process when there is none."""
    if pool is None:
        out = []
        for s in shards:
            out.append(_task(cfg_json, stage, s))
            tick()
        return out
    futures = [pool.submit(_task, cfg_json, stage, s) for s in shards]
    for f in as_completed(futures):
        f.result()
        tick()
    return [f.result() for f in futures]


def map_ray(
    cfg_json: str, stage: int, shards: list[int], cfg: DataConfig, tick: Callable[[], None]
) -> list[dict[str, Any]]:
    """Tasks as rows of a Ray Dataset (one block per shard), mapped by Ray workers."""
    ray = require("distributed", "ray")
    if not ray.is_initialized():
        kw: dict[str, Any] = (
            {"address": cfg.executor.ray_address}
            if cfg.executor.ray_address
            else {
                "num_cpus": workers_of(cfg),
                "include_dashboard": False,
            }
        )
        ray.init(log_to_driver=False, **kw)

    def run(row: dict[str, Any]) -> dict[str, Any]:
        stats = _task(cfg_json, int(row["stage"]), int(row["shard"]))
        return {"shard": row["shard"], "stats": json.dumps(stats)}

    items = [{"stage": stage, "shard": s} for s in shards]
    ds = ray.data.from_items(items, override_num_blocks=max(len(items), 1))
    rows = sorted(ds.map(run, num_cpus=1).take_all(), key=lambda r: r["shard"])
    for _ in rows:
        tick()
    return [json.loads(r["stats"]) for r in rows]


def merge_stats(parts: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Sum per-shard counts step by step, keeping the pipeline's step order."""
    total: dict[str, dict[str, Any]] = {}
    for part in parts:
        for name, st in part.items():
            StepStats.merge(total.setdefault(name, StepStats.new()), st)
    for st in total.values():
        st["seconds"] = round(st["seconds"], 4)
    return total


def run_pipeline(cfg: DataConfig, show_progress: bool = True) -> tuple[Pipeline, dict[str, Any]]:
    """Run every stage and barrier (skipping finished ones); return the pipeline and counts."""
    cfg = absolute(cfg)
    pipe = Pipeline(cfg)
    pipe.prepare()
    cfg_json = cfg.model_dump_json()
    shards = list(range(len(pipe.shards)))
    parts: list[dict[str, Any]] = []
    n_proc = min(workers_of(cfg), len(shards))
    pool = None
    if cfg.executor.kind == "local" and n_proc > 1:  # spawn: safe beside threads and Ray
        pool = ProcessPoolExecutor(n_proc, mp_context=multiprocessing.get_context("spawn"))
    with (
        pool or contextlib.nullcontext(),
        Progress(disable=not show_progress, transient=True) as progress,
    ):
        for k, stage in enumerate(pipe.stages):
            bar = progress.add_task(f"stage {k + 1}/{len(pipe.stages)}", total=len(shards))

            def tick(bar: Any = bar) -> None:
                progress.advance(bar)

            if cfg.executor.kind == "ray":
                parts += map_ray(cfg_json, k, shards, cfg, tick)
            else:
                parts += map_local(cfg_json, k, shards, pool, tick)
            if stage.barrier:
                parts.append(pipe.run_barrier(k))
    return pipe, merge_stats(parts)


def run_in(cfg: DataConfig, run: Run) -> tuple[Pipeline, dict[str, Any], dict[str, Path]]:
    """Run the pipeline inside `run`: record shards as inputs, outputs by role, counts as metrics.

    Shared by `lmforge data run` and the `data` kind of `lmforge run`.
    """
    pipe, stats = run_pipeline(cfg)
    for shard in pipe.shards:
        for f in shard:
            run.add_input(f)
    outputs = {
        sub: pipe.out / sub
        for sub in ("data", "train", "val", "rejected")
        if (pipe.out / sub).is_dir()
    }
    for role, path in outputs.items():
        run.add_output(path, role=role)
    final = list(stats.values())[-1]
    run.log_metrics(steps=stats, documents_in=stats["read"]["in"], documents_out=final["kept"])
    return pipe, stats, outputs
