import pytest

from lmforge.errors import MissingExtraError
from lmforge.extras import EXTRAS, missing_modules, require


def test_require_returns_module():
    assert require("serve", "fastapi").__name__ == "fastapi"


def test_missing_module_names_exact_pip_line(monkeypatch):
    monkeypatch.setattr("lmforge.extras.is_available", lambda m: False)
    with pytest.raises(MissingExtraError) as e:
        require("rag", "faiss")
    assert "pip install 'lmforge[rag]'" in str(e.value)
    assert isinstance(e.value, ImportError)
    assert missing_modules("rag") == list(EXTRAS["rag"])


def test_unknown_extra_is_a_bug():
    with pytest.raises(KeyError):
        require("nope", "x")
