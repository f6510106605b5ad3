"""LoRA adapters through the server: load at run time, pick per request, list, unload, errors."""

from pathlib import Path

import httpx
import openai
import pytest
from tests.serve.conftest import KEY, start_server, tiny_cfg

from lmforge.engine import LLM, SamplingParams
from lmforge.models.tiny import make_random_adapter

AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def adapter(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("serve-lora")
    make_random_adapter(tiny_llama_dir, root / "a", seed=7, r=4, merged_dir=root / "merged")
    return root / "a", root / "merged"


def test_adapter_lifecycle(tiny_llama_dir: Path, adapter: tuple[Path, Path], tmp_path) -> None:
    path, merged = adapter
    prompt = "The json module"
    ref = LLM(str(merged), kv_cache_gb=0.01, threads=1).generate(
        prompt, SamplingParams(max_tokens=8, temperature=0, ignore_eos=True)
    )[0]
    r = start_server(
        tiny_cfg(tiny_llama_dir, adapters={"first": str(path)}, adapter_dir=str(path.parent))
    )
    try:
        c = r.client()
        ids = [m.id for m in c.models.list().data]
        assert ids == ["tiny", "tiny:first"]
        res = httpx.post(
            r.url + "/v1/adapters", json={"name": "second", "path": str(path)}, headers=AUTH
        )
        assert res.status_code == 200 and res.json()["model"] == "tiny:second", res.text
        kw = dict(prompt=prompt, max_tokens=8, temperature=0, extra_body={"ignore_eos": True})
        for model in ("tiny:first", "second"):
            out = c.completions.create(model=model, **kw)
            assert out.choices[0].text == ref.text and out.model == model
        assert c.completions.create(model="tiny", **kw).choices[0].text != ref.text
        res = httpx.delete(r.url + "/v1/adapters/second", headers=AUTH)
        assert res.status_code == 200
        with pytest.raises(openai.NotFoundError, match="second"):
            c.completions.create(model="tiny:second", **kw)
        res = httpx.delete(r.url + "/v1/adapters/second", headers=AUTH)
        assert res.status_code == 404 and "'second' is not loaded" in res.text
        (path.parent / "empty").mkdir(exist_ok=True)
        res = httpx.post(r.url + "/v1/adapters", json={"name": "x", "path": "empty"}, headers=AUTH)
        assert res.status_code == 404 and "adapter_config.json not found" in res.text
        for outside in (str(tmp_path), "../../etc", "/etc"):
            res = httpx.post(
                r.url + "/v1/adapters", json={"name": "x", "path": outside}, headers=AUTH
            )
            assert res.status_code == 403 and "outside --adapter-dir" in res.text, res.text
        res = httpx.post(r.url + "/v1/adapters", json={"name": "x"}, headers=AUTH)
        assert res.status_code == 400 and "'path'" in res.text
        r.wait_idle()
    finally:
        r.stop()


def test_run_time_loading_is_off_without_an_adapter_dir(tiny_llama_dir: Path) -> None:
    r = start_server(tiny_cfg(tiny_llama_dir))
    try:
        res = httpx.post(r.url + "/v1/adapters", json={"name": "x", "path": "/tmp"}, headers=AUTH)
        assert res.status_code == 403 and "--adapter-dir" in res.text
    finally:
        r.stop()


def test_adapter_flag() -> None:
    from lmforge.commands.serve import adapter_map
    from lmforge.errors import ConfigError

    assert adapter_map(["a=x/y", "b=c=d"]) == {"a": "x/y", "b": "c=d"}
    assert adapter_map(None) is None
    with pytest.raises(ConfigError, match="NAME=PEFT_DIR"):
        adapter_map(["oops"])
