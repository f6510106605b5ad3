"""`lmforge run pipeline.yaml`: run stages in order, passing artifacts through run manifests.

Each stage runs in its own run directory. Its fingerprint (kind + resolved config + the content
hashes of its inputs) is stored in its manifest; a later pipeline run finds a succeeded run with
the same fingerprint whose outputs are still intact and reuses it instead of running again.
`from_stage` forces that stage and every later one to run. A failing stage stops the pipeline
with its error; the runs before it keep their artifacts.
"""

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmforge.config import dump_config, load_config
from lmforge.errors import ConfigError, LMForgeError
from lmforge.files import sha256_path
from lmforge.pipeline.kinds import StageKind
from lmforge.pipeline.registry import get_kind
from lmforge.pipeline.report import build_report
from lmforge.pipeline.spec import PipelineConfig, StageSpec
from lmforge.runs import Run, list_runs, load_manifest, runs_root, start_run


@dataclass(slots=True)
class StageResult:
    """What happened to one stage in this pipeline run."""

    name: str
    kind: str
    run_id: str
    status: str  # "ran" | "reused"
    seconds: float
    outputs: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys, so inline config merges over a config file key by key."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def fingerprint(kind: str, config: dict[str, Any], inputs: dict[str, Path]) -> str:
    """Identity of a stage's work: same kind, config and input bytes give the same result."""
    payload = {
        "kind": kind,
        "config": config,
        "inputs": {k: sha256_path(p) for k, p in sorted(inputs.items())},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def find_reusable(fp: str, runs_dir: Path) -> dict[str, Any] | None:
    """The newest succeeded run with this fingerprint whose recorded outputs are unchanged."""
    for manifest in reversed(list_runs(runs_dir)):
        if manifest.get("fingerprint") != fp or manifest["status"] != "succeeded":
            continue
        outputs = manifest.get("outputs", [])
        if all(
            Path(o["path"]).exists() and sha256_path(o["path"]) == o.get("sha256") for o in outputs
        ):
            return manifest
    return None


def resolve_inputs(
    spec: StageSpec, artifacts: dict[str, dict[str, Path]], base: Path
) -> dict[str, Path]:
    """Turn `<stage>.<output>` references and paths into existing paths, or fail clearly."""
    out: dict[str, Path] = {}
    for key, ref in spec.inputs.items():
        producer, _, output = ref.partition(".")
        if producer in artifacts:
            if output not in artifacts[producer]:
                have = ", ".join(artifacts[producer]) or "none"
                raise ConfigError(
                    f"stage {spec.name!r} input {key!r}: stage {producer!r} has no output "
                    f"{output!r} (it has: {have})"
                )
            out[key] = artifacts[producer][output]
            continue
        path = Path(ref) if Path(ref).is_absolute() else base / ref
        if not path.exists():
            raise ConfigError(f"stage {spec.name!r} input {key!r}: {path} does not exist")
        out[key] = path
    return out


def _stage_config(spec: StageSpec, kind: StageKind, base: Path, inputs: dict[str, Path]) -> Any:
    """The stage's config: its file, then its inline keys, then what the pipeline wires in."""
    cfg_file = spec.config_file
    if cfg_file is not None and not cfg_file.is_absolute():
        cfg_file = base / cfg_file
    return load_config(kind.config_model, cfg_file, {**_flatten(spec.config), **kind.fill(inputs)})


def run_pipeline(
    path: str | Path,
    from_stage: str | None = None,
    runs_dir: str | Path | None = None,
    on_stage: Any = None,
) -> tuple[Run, list[StageResult]]:
    """Run the pipeline in `path`; return the pipeline's run and one result per stage."""
    path = Path(path)
    spec = load_config(PipelineConfig, path)
    names = [s.name for s in spec.stages]
    if from_stage is not None and from_stage not in names:
        raise ConfigError(f"--from {from_stage!r}: no such stage; stages are {', '.join(names)}")
    root = runs_root(runs_dir)
    base = path.parent
    kinds = {s.name: get_kind(s.uses) for s in spec.stages}  # unknown kinds fail before any work
    results: list[StageResult] = []
    artifacts: dict[str, dict[str, Path]] = {}
    forced = False
    with start_run("pipeline", spec, root) as prun:
        prun.add_input(path, role="pipeline")
        for st in spec.stages:
            kind = kinds[st.name]
            forced = forced or st.name == from_stage
            inputs = resolve_inputs(st, artifacts, base)
            missing = [k for k in kind.required_inputs if k not in inputs]
            if missing:
                raise ConfigError(
                    f"stage {st.name!r} ({st.uses}) needs inputs: {', '.join(missing)}"
                )
            cfg = _stage_config(st, kind, base, inputs)
            fp = fingerprint(st.uses, dump_config(cfg), inputs)
            reused = None if forced else find_reusable(fp, root)
            t0 = time.perf_counter()
            if reused is not None:
                outs = {o["role"]: Path(o["path"]) for o in reused["outputs"]}
                result = StageResult(
                    st.name, st.uses, reused["id"], "reused", 0.0, outs, reused.get("metrics", {})
                )
            else:
                result = _run_stage(st, kind, cfg, inputs, fp, prun, root)
                result.seconds = round(time.perf_counter() - t0, 2)
            artifacts[st.name] = result.outputs
            results.append(result)
            if on_stage is not None:
                on_stage(result)
        prun.log_metrics(
            stages=[
                {
                    "name": r.name,
                    "kind": r.kind,
                    "run": r.run_id,
                    "status": r.status,
                    "seconds": r.seconds,
                }
                for r in results
            ]
        )
    report = build_report(prun.dir, load_manifest(prun.dir)["metrics"]["stages"])
    prun.add_output(report, role="report")
    return prun, results


def _run_stage(
    st: StageSpec,
    kind: StageKind,
    cfg: Any,
    inputs: dict[str, Path],
    fp: str,
    prun: Run,
    root: Path,
) -> StageResult:
    stage_id = st.uses.replace(".", "-")
    try:
        with start_run(stage_id, cfg, root) as run:
            run.manifest["fingerprint"] = fp
            run.manifest["pipeline"] = {"run": prun.id, "stage": st.name}
            for key, p in inputs.items():
                run.add_input(p, role=key)
            outs = kind.run(cfg, inputs, run)
            for key, p in outs.items():
                run.add_output(p, role=key)
    except LMForgeError as e:
        raise LMForgeError(f"stage {st.name!r} ({st.uses}) failed: {e}") from e
    return StageResult(st.name, st.uses, run.id, "ran", 0.0, outs, dict(run.manifest["metrics"]))
