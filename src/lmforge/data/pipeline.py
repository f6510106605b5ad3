"""A pipeline: per-document steps over shards, split into stages at deduplication barriers.

    stage 0: read shard -> steps -> [signatures]      (parallel, one task per shard)
    barrier: global exact + near dedup plan            (one pass over all signatures)
    stage 1: apply the plan -> later steps -> write    (parallel)

Every task writes its outputs atomically, then a `.done.json` marker holding its counts; a
rerun skips tasks whose marker exists, so a killed run loses no finished shard. The work
folder is tied to a fingerprint of the config: resuming with a different config is an error.
Executors (local processes or Ray) only decide where `run_task` runs; the result is the same.
"""

import glob
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.data import config as C
from lmforge.data.dedup import EXACT, NEAR, REASONS, NearDedupParams, plan_dedup, signature_arrays
from lmforge.data.document import Document, Rejected
from lmforge.data.formatting import DPO, Chat
from lmforge.data.io import TEXT_SUFFIXES, read_file, read_jsonl, write_records
from lmforge.data.quality import C4, FineWeb, Gopher
from lmforge.data.safety import PII, Toxicity
from lmforge.data.steps import LangID, Normalize, Step
from lmforge.errors import LMForgeError
from lmforge.files import atomic_write_json

STEP_CLASSES: dict[str, type[Step]] = {
    "normalize": Normalize,
    "langid": LangID,
    "gopher": Gopher,
    "c4": C4,
    "fineweb": FineWeb,
    "toxicity": Toxicity,
    "pii": PII,
    "chat": Chat,
    "dpo": DPO,
}
BARRIERS = ("exact_dedup", "near_dedup")
DEDUP_STEP = {EXACT: "exact_dedup", NEAR: "near_dedup"}


def build_step(cfg: Any, text_field: str) -> Step:
    params = cfg.model_dump(exclude={"type"})
    if cfg.type == "chat":
        params["text_field"] = text_field
    return STEP_CLASSES[cfg.type](**params)


@dataclass(slots=True)
class Stage:
    """Per-document steps, then (unless last) a dedup barrier: exact and/or near."""

    steps: list[tuple[str, Step]]
    exact: bool = False
    near: NearDedupParams | None = None

    @property
    def barrier(self) -> bool:
        return self.exact or self.near is not None


def build_stages(cfg: C.DataConfig) -> list[Stage]:
    stages, cur = [], Stage([])
    names: Counter[str] = Counter()
    for s in cfg.steps:
        names[s.type] += 1
        label = s.type if names[s.type] == 1 else f"{s.type}#{names[s.type]}"
        if s.type in BARRIERS:
            if s.type == "exact_dedup":
                cur.exact = True
            else:
                cur.near = NearDedupParams(**s.model_dump(exclude={"type"}))
        else:
            if cur.barrier:
                stages.append(cur)
                cur = Stage([])
            cur.steps.append((label, build_step(s, cfg.input.text_field)))
    if cur.barrier:
        stages.append(cur)
        cur = Stage([])
    stages.append(cur)
    return stages


def list_shards(cfg: C.DataConfig) -> list[list[str]]:
    """Input files in a fixed order, grouped into shards (one file each; text files batched)."""
    files: list[str] = []
    for p in cfg.input.paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(q) for q in path.rglob("*") if q.suffix.lower() in TEXT_SUFFIXES)
        else:
            found = sorted(glob.glob(p)) if any(c in p for c in "*?[") else [p]
        if not found or not all(Path(f).is_file() for f in found):
            raise LMForgeError(f"input.paths: {p!r} matches no file; check the path or glob")
        files += [f for f in found if f not in files]
    shards: list[list[str]] = []
    texts = [f for f in files if f.lower().endswith(TEXT_SUFFIXES)]
    shards += [[f] for f in files if f not in texts]
    n = cfg.files_per_shard
    shards += [texts[i : i + n] for i in range(0, len(texts), n)]
    return shards


def fingerprint(cfg: C.DataConfig) -> str:
    data = cfg.model_dump(mode="json", exclude={"executor"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class StepStats:
    """Counts for one step: in, kept, dropped by reason, bytes in/out, seconds."""

    @staticmethod
    def new() -> dict[str, Any]:
        return {"in": 0, "kept": 0, "dropped": {}, "bytes_in": 0, "bytes_out": 0, "seconds": 0.0}

    @staticmethod
    def merge(into: dict[str, Any], other: dict[str, Any]) -> None:
        for k in ("in", "kept", "bytes_in", "bytes_out", "seconds"):
            into[k] += other[k]
        for r, n in other["dropped"].items():
            into["dropped"][r] = into["dropped"].get(r, 0) + n


class Pipeline:
    """Everything a worker needs to run any task of a config: stages, shards and paths."""

    def __init__(self, cfg: C.DataConfig) -> None:
        self.cfg = cfg
        self.stages = build_stages(cfg)
        self.shards = list_shards(cfg)
        self.file_index = {f: i for i, f in enumerate(f for s in self.shards for f in s)}
        self.out = Path(cfg.output.dir)
        self.work = self.out / "_work"
        self._plans: dict[int, dict[tuple[int, int], tuple[int, tuple[int, int], str]]] = {}
        self._ready = False

    # -- paths -----------------------------------------------------------------------------
    def marker(self, stage: int, shard: int) -> Path:
        return self.work / f"s{stage}" / f"{shard:05d}.done.json"

    def plan_path(self, stage: int) -> Path:
        return self.work / f"plan{stage}.npz"

    def output_paths(self, shard: int) -> dict[str, Path]:
        name = f"part-{shard:05d}.{self.cfg.output.format}"
        if self.cfg.split.val_fraction > 0:
            return {s: self.out / s / name for s in ("train", "val")}
        return {"data": self.out / "data" / name}

    def prepare(self) -> None:
        """Create the work folder, or check that it belongs to this config (resume)."""
        fp_path = self.work / "fingerprint.json"
        fp = fingerprint(self.cfg)
        if fp_path.is_file():
            if json.loads(fp_path.read_text())["fingerprint"] != fp:
                raise LMForgeError(
                    f"{self.out}: holds a run of a different config; "
                    "use another output.dir or delete this one to start over"
                )
        else:
            atomic_write_json(fp_path, {"fingerprint": fp})

    # -- one task: a stage over a shard --------------------------------------------------------
    def _setup(self) -> None:
        if not self._ready:
            for stage in self.stages:
                for _, step in stage.steps:
                    step.setup()
            self._ready = True

    def _inputs(self, stage: int, shard: int, stats: dict[str, Any], rejected: list[Rejected]):
        """Documents entering `stage` for `shard`: read from input, or from the previous
        stage's output minus what its dedup plan drops (those go to rejected/)."""
        if stage == 0:
            st = stats.setdefault("read", StepStats.new())
            for f in self.shards[shard]:
                for item in read_file(
                    Path(f), self.file_index[f], self.cfg.input.text_field, self.cfg.input.id_field
                ):
                    st["in"] += 1
                    if isinstance(item, Rejected):
                        if self.cfg.input.on_bad_record == "fail":
                            raise LMForgeError(
                                f"{item.source}: bad record ({item.reason}); fix it or set "
                                "input.on_bad_record: reject"
                            )
                        st["dropped"][item.reason] = st["dropped"].get(item.reason, 0) + 1
                        rejected.append(item)
                        continue
                    st["kept"] += 1
                    n = len(item.text.encode("utf-8", "surrogatepass"))
                    st["bytes_in"] += n
                    st["bytes_out"] += n
                    yield item
            return
        plan = self._plan(stage - 1)
        for rec in read_jsonl(self.work / f"s{stage - 1}" / f"{shard:05d}.jsonl"):
            doc = Document(rec["id"], rec["text"], rec["metadata"], tuple(rec["pos"]))
            reason, dup_pos, dup_id, _ = plan[doc.pos]
            if reason:
                detail = {"duplicate_of": dup_id, "duplicate_pos": list(dup_pos)}
                src = f"pos {list(doc.pos)}"
                rej = Rejected(DEDUP_STEP[reason], REASONS[reason], doc.id, doc.text, src, detail)
                rejected.append(rej)
                continue
            yield doc

    def run_task(self, stage: int, shard: int) -> dict[str, Any]:
        """Run `stage` over `shard`, write its outputs and marker; return its counts."""
        marker = self.marker(stage, shard)
        if marker.is_file():
            return json.loads(marker.read_text())
        self._setup()
        st_cfg = self.stages[stage]
        stats: dict[str, dict[str, Any]] = {}
        rejected: list[Rejected] = []
        docs = list(self._inputs(stage, shard, stats, rejected))
        for label, step in st_cfg.steps:
            st = stats.setdefault(label, StepStats.new())
            t0 = time.perf_counter()
            kept = []
            for doc in docs:
                st["in"] += 1
                st["bytes_in"] += len(doc.text)
                ok, reason = step(doc)
                if ok:
                    kept.append(doc)
                    st["bytes_out"] += len(doc.text)
                    if isinstance(step, PII):  # redactions count like drops: by kind
                        for kind, n in doc.metadata.get("pii", {}).items():
                            key = f"redacted_{kind}"
                            st["dropped"][key] = st["dropped"].get(key, 0) + n
                else:
                    st["dropped"][reason] = st["dropped"].get(reason, 0) + 1
                    rejected.append(
                        Rejected(label, reason, doc.id, doc.text, f"pos {list(doc.pos)}")
                    )
            st["kept"] += len(kept)
            st["seconds"] += time.perf_counter() - t0
            docs = kept
        if st_cfg.barrier:
            self._write_signatures(stage, shard, docs, stats)
        else:
            self._write_output(stage, shard, docs)
        if rejected:
            write_records(
                self.out / "rejected" / f"s{stage}-{shard:05d}.jsonl",
                [r.to_record() for r in rejected],
            )
        atomic_write_json(marker, stats)
        return stats

    def _write_signatures(self, stage: int, shard: int, docs: list[Document], stats: dict) -> None:
        t0 = time.perf_counter()
        st_cfg = self.stages[stage]
        exact, sig = signature_arrays([d.text for d in docs], st_cfg.near)
        pos = np.array([d.pos for d in docs], dtype=np.int64).reshape(-1, 2)
        ids = np.array([d.id for d in docs], dtype=str)
        arrays = {"pos": pos, "ids": ids, "exact": exact}
        if sig is not None:
            arrays["sig"] = sig
        d = self.work / f"s{stage}"
        tmp = d / f".{shard:05d}.npz.tmp"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        tmp.replace(d / f"{shard:05d}.npz")
        records = [
            {"id": x.id, "text": x.text, "metadata": x.metadata, "pos": list(x.pos)} for x in docs
        ]
        write_records(d / f"{shard:05d}.jsonl", records)
        key = "exact_dedup" if st_cfg.exact else "near_dedup"
        stats.setdefault(key, StepStats.new())["seconds"] += time.perf_counter() - t0

    def _write_output(self, stage: int, shard: int, docs: list[Document]) -> None:
        paths = self.output_paths(shard)
        groups = self._plans.get(stage - 1, {}) if stage > 0 else {}
        split = self.cfg.split
        parts: dict[str, list[dict[str, Any]]] = {k: [] for k in paths}
        for d in docs:
            rec = d.to_record()
            if "val" in parts:
                g = groups[d.pos][3] if d.pos in groups else d.pos
                h = int(hashlib.sha256(f"{split.seed}:{g[0]}:{g[1]}".encode()).hexdigest()[:16], 16)
                parts["val" if h / 2**64 < split.val_fraction else "train"].append(rec)
            else:
                parts["data"].append(rec)
        for k, path in paths.items():
            write_records(path, parts[k])

    # -- barrier ------------------------------------------------------------------------------
    def _plan(self, stage: int) -> dict[tuple[int, int], tuple]:
        """pos -> (reason code, kept duplicate's pos, its id, split group pos)."""
        if stage not in self._plans:
            z = np.load(self.plan_path(stage))
            pos = [tuple(p) for p in z["pos"].tolist()]
            ids = z["ids"].tolist()
            self._plans[stage] = {
                p: (int(r), pos[d], ids[d], pos[g])
                for p, r, d, g in zip(pos, z["reason"], z["dup_of"], z["group"], strict=True)
            }
        return self._plans[stage]

    def run_barrier(self, stage: int) -> dict[str, Any]:
        """Global dedup over every shard's signatures of `stage`; writes the plan."""
        out, stats_path = self.plan_path(stage), self.work / f"plan{stage}.json"
        if stats_path.is_file():
            return json.loads(stats_path.read_text())
        t0 = time.perf_counter()
        d = self.work / f"s{stage}"
        parts = [np.load(d / f"{s:05d}.npz") for s in range(len(self.shards))]
        pos = np.concatenate([p["pos"] for p in parts])
        order = np.lexsort((pos[:, 1], pos[:, 0]))  # input order, whatever the sharding
        cat = (
            {k: np.concatenate([p[k] for p in parts])[order] for k in parts[0].files if k != "pos"}
            if parts
            else {}
        )
        pos = pos[order]
        st_cfg = self.stages[stage]
        plan = plan_dedup(cat.get("exact") if st_cfg.exact else None, cat.get("sig"), st_cfg.near)
        tmp = out.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            np.savez(
                f,
                pos=pos,
                ids=cat.get("ids", np.array([], dtype=str)),
                reason=plan.reason,
                dup_of=plan.dup_of,
                group=plan.group,
            )
        tmp.replace(out)
        seconds = time.perf_counter() - t0
        stats = {}
        n_in = len(pos)
        if st_cfg.exact:
            n_ex = int((plan.reason == 1).sum())
            stats["exact_dedup"] = {
                **StepStats.new(),
                "in": n_in,
                "kept": n_in - n_ex,
                "dropped": {"exact_duplicate": n_ex} if n_ex else {},
            }
            n_in -= n_ex
        if st_cfg.near is not None:
            n_near = int((plan.reason == 2).sum())
            stats["near_dedup"] = {
                **StepStats.new(),
                "in": n_in,
                "kept": n_in - n_near,
                "dropped": {"near_duplicate": n_near} if n_near else {},
            }
        next(iter(stats.values()))["seconds"] = seconds
        atomic_write_json(stats_path, stats)
        return stats
