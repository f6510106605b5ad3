"""BFCL's own AST checker over our decoded calls; runs in the bench-only venv that holds bfcl-eval.

    /root/.cache/lmforge/bfcl-venv/bin/python bench/bfcl_check.py calls.jsonl > verdicts.jsonl

bfcl-eval pins numpy 1.26 and ~40 vendor SDKs, so it is installed with `--no-deps` into its own
venv (see bench/bfcl.py). The checker module imports `constants.model_config` only to look up
whether a model's handler turned "." into "_" in function names; that module imports every
vendor handler, so a stand-in with that one flag (False: bench/bfcl.py maps names back itself)
is put in its place. The checking code itself is bfcl-eval's, unchanged.
"""

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

MODEL = "lmforge"


@dataclass
class _Config:
    underscore_to_dot: bool = False


stub = types.ModuleType("bfcl_eval.constants.model_config")
stub.MODEL_CONFIG_MAPPING = {MODEL: _Config()}  # type: ignore[attr-defined]
sys.modules["bfcl_eval.constants.model_config"] = stub

from bfcl_eval.constants.enums import Language  # noqa: E402
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker  # noqa: E402


def main() -> None:
    for line in Path(sys.argv[1]).read_text().splitlines():
        row = json.loads(line)
        if row["model_output"] is None:
            verdict = {"valid": False, "error": ["unparsable"], "error_type": "unparsable"}
        else:
            verdict = ast_checker(
                row["function"],
                row["model_output"],
                row["possible_answer"],
                Language.PYTHON,
                row["category"],
                MODEL,
            )
        print(
            json.dumps(
                {
                    "id": row["id"],
                    "mode": row["mode"],
                    "valid": bool(verdict["valid"]),
                    "error_type": verdict.get("error_type"),
                }
            )
        )


if __name__ == "__main__":
    main()
