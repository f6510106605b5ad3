"""AsyncLLMEngine: concurrent `async for` streams, abort, errors, stats."""

import asyncio

import pytest
from engine_helpers import PROMPTS

from lmforge.engine import LLM, AsyncLLMEngine, LLMEngine, SamplingParams
from lmforge.errors import LMForgeError


def test_streams_abort_and_stats(tiny_llama_engine: LLMEngine) -> None:
    async def main() -> None:
        eng = AsyncLLMEngine(tiny_llama_engine)
        params = SamplingParams(max_tokens=10, temperature=0, ignore_eos=True)

        async def collect(i: int) -> tuple[str, list[int], str | None]:
            text, last = "", None
            async for out in eng.add_request(PROMPTS[i], params, f"r{i}"):
                text += out.delta_text
                last = out
            assert last is not None and last.finished
            return text, last.token_ids, last.finish_reason

        async def aborted() -> str | None:
            reason = None
            stream = eng.add_request(
                PROMPTS[5], SamplingParams(max_tokens=400, ignore_eos=True), "long"
            )
            async for out in stream:
                if len(out.token_ids) == 3:
                    await eng.abort("long")
                reason = out.finish_reason
            return reason

        results = await asyncio.gather(*(collect(i) for i in range(4)), aborted())
        sync = [o.token_ids for o in _llm(tiny_llama_engine).generate(PROMPTS[:4], params)]
        assert [r[1] for r in results[:4]] == sync
        assert all(r[2] == "length" and r[0] for r in results[:4])
        assert results[4] == "abort"
        stats = eng.stats()
        assert stats.num_running == 0 and stats.kv_usage == 0 and stats.generation_tokens >= 43
        with pytest.raises(LMForgeError, match="max_model_len"):
            async for _ in eng.add_request([1] * 600, params, "too-long"):
                pass
        # leaving a stream early aborts it and frees its blocks
        async for _ in eng.add_request(PROMPTS[0], SamplingParams(max_tokens=300), "early"):
            break
        await asyncio.sleep(0.2)
        assert tiny_llama_engine.blocks.usage == 0 and not tiny_llama_engine.requests
        await eng.aclose()

    asyncio.run(main())


def _llm(engine: LLMEngine) -> LLM:
    """An LLM facade over an already loaded engine."""
    llm = LLM.__new__(LLM)
    llm.engine = engine
    return llm
