"""Engine behaviour: outputs invariant to caching, block size, preemption and batching."""

from pathlib import Path

import pytest
from engine_helpers import PROMPTS, make_engine

from lmforge.engine import LLM, LLMEngine, SamplingParams
from lmforge.errors import LMForgeError

GREEDY = SamplingParams(max_tokens=20, temperature=0, ignore_eos=True)
SYSTEM = "You are a careful assistant. Answer briefly and cite the module docs. " * 2


def run_all(
    engine: LLMEngine, prompts: list[str], params: SamplingParams = GREEDY
) -> list[list[int]]:
    ids = [engine.add_request(p, params) for p in prompts]
    done = {}
    while engine.has_unfinished():
        done.update({o.request_id: o for o in engine.step() if o.finished})
    assert engine.blocks.num_free == engine.runner.num_blocks  # nothing leaked
    return [done[i].token_ids for i in ids]


@pytest.fixture(scope="module")
def reference(tiny_llama_engine: LLMEngine) -> list[list[int]]:
    """Each prompt alone (with the shared system prefix), prefix caching off."""
    eng = make_engine(tiny_llama_engine.path, enable_prefix_caching=False, max_num_seqs=1)
    return run_all(eng, [SYSTEM + p for p in PROMPTS])


@pytest.mark.parametrize(
    "kw",
    [
        {"block_size": 1},
        {"block_size": 7, "max_num_batched_tokens": 16},  # chunked prefill + odd blocks
        {"block_size": 16, "max_num_batched_tokens": 48},  # later requests hit the cache
        {"block_size": 64, "enable_prefix_caching": False},
        {"block_size": 4, "kv_cache_gb": 0.00007},  # 34 blocks of 4: forced preemption
    ],
    ids=["bs1", "bs7-chunked", "bs16", "bs64-nocache", "preempt"],
)
def test_outputs_invariant(tiny_llama_dir: Path, reference: list[list[int]], kw: dict) -> None:
    eng = make_engine(tiny_llama_dir, **kw)
    assert run_all(eng, [SYSTEM + p for p in PROMPTS]) == reference
    if kw.get("kv_cache_gb"):
        assert eng.stats().num_preemptions > 0
    if kw.get("block_size") == 16:
        assert eng.stats().prefix_cache_hits > 0


def test_alone_equals_batch_of_32(tiny_qwen2_engine: LLMEngine) -> None:
    prompts = [PROMPTS[i % len(PROMPTS)] + f" #{i}" for i in range(32)]
    batched = run_all(tiny_qwen2_engine, prompts)
    alone = [run_all(tiny_qwen2_engine, [p])[0] for p in prompts[:: len(PROMPTS) + 1]]
    assert alone == batched[:: len(PROMPTS) + 1]


def test_prefix_cache_hits_on_shared_system_prompt(tiny_llama_dir: Path) -> None:
    eng = make_engine(tiny_llama_dir, block_size=8)
    run_all(eng, [SYSTEM + PROMPTS[0]])
    eng.add_request(SYSTEM + PROMPTS[1], GREEDY, "second")
    out = None
    while eng.has_unfinished():
        out = next((o for o in eng.step() if o.finished), out)
    sys_len = len(eng.tokenizer.encode(SYSTEM))
    assert out is not None and out.num_cached_tokens >= (sys_len // 8 - 1) * 8 > 0
    s = eng.stats()
    assert 0 < s.prefix_cache_hits <= s.prefix_cache_queries


def test_abort_frees_blocks_at_once(tiny_llama_dir: Path) -> None:
    eng = make_engine(tiny_llama_dir)
    eng.add_request(PROMPTS[0], SamplingParams(max_tokens=100, ignore_eos=True), "a")
    eng.add_request(PROMPTS[1], SamplingParams(max_tokens=100, ignore_eos=True), "b")
    eng.step()
    eng.step()
    assert eng.stats().kv_usage > 0
    out = eng.abort_request("a")
    assert out is not None and out.finished and out.finish_reason == "abort"
    eng.abort_request("b")
    assert eng.stats().kv_usage == 0 and not eng.has_unfinished()


def test_requests_that_never_fit_fail_clearly(tiny_llama_dir: Path) -> None:
    eng = make_engine(tiny_llama_dir, kv_cache_gb=0.00002, block_size=4)  # 9 blocks
    with pytest.raises(LMForgeError, match=r"KV cache .* raise kv_cache_gb"):
        eng.add_request([5] * 60, SamplingParams(max_tokens=40))
    with pytest.raises(LMForgeError, match="exceeds max_model_len 512"):
        eng.add_request([5] * 500, SamplingParams(max_tokens=40))
    with pytest.raises(LMForgeError, match="empty prompt"):
        eng.add_request([], SamplingParams())


def test_llm_generate_api(tiny_llama_dir: Path) -> None:
    llm = LLM(str(tiny_llama_dir), kv_cache_gb=0.01, threads=1)
    streamed: list[str] = []
    outs = llm.generate(
        PROMPTS[:3],
        SamplingParams(max_tokens=12, ignore_eos=True, seed=1),
        on_output=lambda o: streamed.append(o.delta_text) if o.request_id else None,
    )
    assert [len(o.token_ids) for o in outs] == [12, 12, 12]
    assert all(o.finish_reason == "length" and o.ttft and len(o.itl) == 11 for o in outs)
    assert "".join(streamed) and sorted("".join(streamed)) == sorted("".join(o.text for o in outs))
