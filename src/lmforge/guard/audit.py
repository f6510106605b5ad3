"""The audit log: one JSON line per guard decision.

Raw prompts are personal data, so by default a record holds the text's SHA-256 and length, not
the text (policy `audit.log_text` turns that on). API keys are hashed too. Each record is one
`write` on a file opened with O_APPEND, so concurrent writers never interleave within a line.
"""

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any


def digest(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()[:16]


class AuditLog:
    def __init__(self, path: str | Path, log_text: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.log_text = log_text
        self._lock = threading.Lock()

    def record(self, stage: str, text: str, key: str | None, **fields: Any) -> dict[str, Any]:
        """Append one decision; returns the record as written."""
        rec: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "stage": stage,
            "key": digest(key) if key else None,
            "text_sha256": digest(text),
            "text_len": len(text),
            **fields,
        }
        if self.log_text:
            rec["text"] = text
        line = (json.dumps(rec, ensure_ascii=False, default=str) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return rec
