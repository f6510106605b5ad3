import pytest

from lmforge.errors import ModelLoadError
from lmforge.models import load_model
from lmforge.models.info import model_info


def test_hf_dir_info(tiny_qwen2_dir):
    info = model_info(str(tiny_qwen2_dir))
    model = load_model(tiny_qwen2_dir).model
    assert info["format"] == "hf" and info["model_type"] == "qwen2"
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert (info["layers"], info["attention_heads"], info["kv_heads"]) == (2, 4, 2)
    assert info["tied_embeddings"] is False and info["chat_template"] == "model"
    assert info["size_bytes"] > 0


def test_gguf_info(tiny_gguf):
    info = model_info(str(tiny_gguf))
    assert info["format"] == "gguf" and info["architecture"] == "llama"


def test_info_missing():
    with pytest.raises(ModelLoadError, match="model not found"):
        model_info("/nope")


@pytest.mark.integration
def test_default_info(default_model_dir):
    info = model_info("default")
    assert info["model_type"] == "llama" and info["layers"] == 30
    assert 130e6 < info["parameters"] < 140e6
    assert info["context_length"] == 8192
