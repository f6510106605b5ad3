"""The default model behind the server, through the openai client."""

import pytest
from tests.serve.conftest import start_server, tiny_cfg


@pytest.mark.integration
def test_default_model_chat(default_model_dir) -> None:
    cfg = tiny_cfg(default_model_dir, served_model_name="smollm2", kv_cache_gb=0.05)
    r = start_server(cfg)
    try:
        c = r.client()
        resp = c.chat.completions.create(
            model="smollm2", temperature=0, max_tokens=12,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
        )  # fmt: skip
        assert "Paris" in resp.choices[0].message.content
        s = c.chat.completions.create(
            model="smollm2", temperature=0, max_tokens=12, stream=True,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
        )  # fmt: skip
        assert (
            "".join(x.choices[0].delta.content or "" for x in s) == resp.choices[0].message.content
        )
        r.wait_idle()
    finally:
        r.stop()
