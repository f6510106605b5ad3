import json
import shutil

import pytest
import torch
from gguf import GGUFWriter
from transformers import AutoModelForCausalLM

from lmforge.errors import ModelLoadError
from lmforge.models import load_model, resolve_model_dir


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_qwen2_dir"])
def test_load_hf_directory(request, fixture):
    path = request.getfixturevalue(fixture)
    lm = load_model(path)
    assert lm.path == path and lm.chat_template == "model"
    ids = lm.tokenizer("the quick brown fox", return_tensors="pt").input_ids
    ref = AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        assert torch.equal(lm.model(ids).logits, ref(ids).logits)


def test_tied_and_untied_embeddings(tiny_llama_dir, tiny_qwen2_dir):
    llama = load_model(tiny_llama_dir).model
    qwen = load_model(tiny_qwen2_dir).model
    assert llama.lm_head.weight.data_ptr() == llama.model.embed_tokens.weight.data_ptr()
    assert qwen.lm_head.weight.data_ptr() != qwen.model.embed_tokens.weight.data_ptr()
    assert qwen.model.layers[0].self_attn.q_proj.bias is not None


def test_missing_path():
    with pytest.raises(ModelLoadError, match=r"model not found: '/no/such/model'.*never downloads"):
        resolve_model_dir("/no/such/model")


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        resolve_model_dir(tmp_path)


def test_directory_without_weights(tmp_path, tiny_llama_dir):
    shutil.copy(tiny_llama_dir / "config.json", tmp_path / "config.json")
    with pytest.raises(ModelLoadError, match=r"has config.json but no weights \(\*.safetensors\)"):
        resolve_model_dir(tmp_path)


def test_unsupported_architecture(tmp_path, tiny_llama_dir):
    shutil.copy(tiny_llama_dir / "model.safetensors", tmp_path / "model.safetensors")
    cfg = {"model_type": "resnet", "architectures": ["ResNetForImageClassification"]}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=r"unsupported architecture ResNetForImage.*'resnet'"):
        resolve_model_dir(tmp_path)


def test_non_gguf_file(tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"xx")
    with pytest.raises(ModelLoadError, match=r"must be \.gguf"):
        resolve_model_dir(f)


def test_corrupt_gguf(tmp_path):
    f = tmp_path / "broken.gguf"
    f.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelLoadError, match="not a readable GGUF file"):
        resolve_model_dir(f)


def test_gguf_with_unsupported_architecture(tmp_path):
    f = tmp_path / "odd.gguf"
    w = GGUFWriter(str(f), "fancy-net")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ModelLoadError, match=r"unsupported GGUF architecture 'fancy-net'.*llama"):
        resolve_model_dir(f)


def test_gguf_loads_with_identical_logits(tiny_gguf, tiny_llama_dir, cache):
    lm = load_model(tiny_gguf)
    assert lm.path.parent == cache / "models"
    ids = torch.tensor([[5, 17, 99, 250, 3, 400]])
    ref = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    with torch.no_grad():
        assert torch.equal(lm.model(ids).logits, ref(ids).logits)
    text = "Return the value of the key."
    assert lm.tokenizer(text).input_ids == load_model(tiny_llama_dir).tokenizer(text).input_ids


def test_directory_holding_one_gguf(tiny_gguf, tmp_path, cache):
    shutil.copy(tiny_gguf, tmp_path / "m.gguf")
    assert (resolve_model_dir(tmp_path) / "config.json").is_file()


def test_fallback_template_adds_tokens_and_resizes(tmp_path, tiny_llama_dir):
    model_dir = tmp_path / "plain"
    shutil.copytree(tiny_llama_dir, model_dir)
    (model_dir / "chat_template.jinja").unlink(missing_ok=True)
    tok_cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    tok_cfg.pop("chat_template", None)
    (model_dir / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    lm = load_model(model_dir)
    assert lm.chat_template == "chatml-fallback"
    assert "<|im_start|>" in lm.tokenizer.get_vocab()
    assert lm.model.get_input_embeddings().num_embeddings >= len(lm.tokenizer)
