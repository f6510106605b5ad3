"""The stage-kind registry: explicit registration, built-ins on first lookup, no import cycle."""

import subprocess
import sys

import pytest

from lmforge.config import StageConfig
from lmforge.errors import ConfigError
from lmforge.pipeline.kinds import StageKind
from lmforge.pipeline.registry import Registry, get_kind


class Cfg(StageConfig):
    pass


def _kind(name: str, tag: str = "") -> StageKind:
    return StageKind(name, Cfg, lambda cfg, inputs, run: {}, description=tag)


def test_builtins_load_on_first_lookup_and_unknown_names_list_them():
    calls = []
    reg = Registry(loader=lambda: (calls.append(1), (_kind("a"), _kind("b")))[1])
    assert calls == []
    assert reg.get("a").name == "a"
    assert [k.name for k in reg] == ["a", "b"] and calls == [1]
    with pytest.raises(ConfigError, match=r"unknown stage kind 'zzz'; available: a, b"):
        reg.get("zzz")


def test_register_replaces_a_builtin_of_the_same_name():
    reg = Registry(loader=lambda: (_kind("a", "builtin"),))
    reg.register(_kind("a", "mine"))
    assert reg.get("a").description == "mine"


def test_the_process_registry_holds_lmforges_kinds():
    for name in ("data", "train.sft", "train.merge", "eval", "rag.eval", "bench.serve"):
        assert get_kind(name).name == name


def test_kinds_module_is_a_leaf():
    """Importing the kind contract loads no kind module, and each kind module imports alone."""
    code = (
        "import sys, lmforge.pipeline.kinds;"
        "bad = [m for m in sys.modules if m.startswith('lmforge.pipeline.') and"
        " m not in ('lmforge.pipeline.kinds',)];"
        "assert not bad, bad;"
        "import lmforge.pipeline.rag_kinds, lmforge.pipeline.builtin_kinds;"
        "assert 'lmforge.pipeline.registry' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
