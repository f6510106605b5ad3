import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def test_tiny_models_load_and_run(tiny_llama_dir, tiny_qwen2_dir):
    for d in (tiny_llama_dir, tiny_qwen2_dir):
        tok = AutoTokenizer.from_pretrained(d)
        model = AutoModelForCausalLM.from_pretrained(d)
        ids = tok("hello world", return_tensors="pt").input_ids
        logits = model(ids).logits
        assert logits.shape == (1, ids.shape[1], len(tok))
        assert torch.isfinite(logits).all()
