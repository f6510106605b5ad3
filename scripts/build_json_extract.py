"""Build src/lmforge/eval/tasks/data/json_extract.jsonl: describe a stdlib function as JSON.

Each item gives a public pure-Python stdlib function's signature and docstring line and asks for
a JSON object (module, name, parameter names, how many are required, whether it takes *args or
**kwargs); the gold object comes from `inspect.signature`. Deterministic for a Python version;
the shipped file was built with Python 3.11: `python scripts/build_json_extract.py`.
"""

import importlib
import inspect
import json
import os
import tempfile
from pathlib import Path

MODULES = [
    "json",
    "os.path",
    "random",
    "statistics",
    "textwrap",
    "shutil",
    "string",
    "difflib",
    "fnmatch",
    "glob",
    "heapq",
    "bisect",
    "calendar",
    "base64",
    "csv",
    "html",
    "ipaddress",
]
LIMIT = 120
OUT = Path(__file__).parent.parent / "src/lmforge/eval/tasks/data/json_extract.jsonl"
SCHEMA = {
    "type": "object",
    "properties": {
        "module": {"type": "string", "maxLength": 20},
        "name": {"type": "string", "maxLength": 40},
        "params": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 12},
        "n_required": {"type": "integer", "minimum": 0, "maximum": 12},
        "has_varargs": {"type": "boolean"},
    },
    "required": ["module", "name", "params", "n_required", "has_varargs"],
    "additionalProperties": False,
}


def items() -> list[dict]:
    out = []
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        for name, fn in sorted(vars(mod).items()):
            if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != mod.__name__:
                continue
            doc = (inspect.getdoc(fn) or "").split("\n")[0].strip()
            if not doc:
                continue
            sig = inspect.signature(fn)
            ps = list(sig.parameters.values())
            var = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in ps)
            required = [
                p
                for p in ps
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
            answer = {
                "module": mod_name,
                "name": name,
                "params": [p.name for p in ps],
                "n_required": len(required),
                "has_varargs": var,
            }
            question = (
                f"Python function: {mod_name}.{name}{sig}\nDocstring: {doc}\n\nDescribe this "
                "function as a JSON object with the fields module, name, params (the parameter "
                "names in order), n_required (how many parameters have no default, not counting "
                "*args/**kwargs) and has_varargs (whether it takes *args or **kwargs)."
            )
            out.append(
                {
                    "id": f"{mod_name}.{name}",
                    "question": question,
                    "schema": SCHEMA,
                    "answer": answer,
                }
            )
    return out[:LIMIT]


def main() -> None:
    rows = items()
    fd, tmp = tempfile.mkstemp(dir=OUT.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    os.replace(tmp, OUT)
    print(f"wrote {len(rows)} items to {OUT}")


if __name__ == "__main__":
    main()
