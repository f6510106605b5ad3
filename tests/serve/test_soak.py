"""Soak: mixed streaming / non-streaming requests with random disconnects, then no leaks.

200 short requests in CI; `LMFORGE_SOAK_REQUESTS=2000` (and longer outputs) for a real soak.
"""

import asyncio
import os
import random

import openai
import psutil
from tests.serve.conftest import Running

N = int(os.environ.get("LMFORGE_SOAK_REQUESTS", "200"))


async def _one(c: openai.AsyncOpenAI, rng: random.Random) -> str:
    kw = {"model": "tiny", "max_tokens": rng.randint(2, 12), "temperature": rng.choice([0, 0.8])}
    disconnect = rng.random() < 0.3
    if rng.random() < 0.5:
        s = await c.completions.create(prompt="soak " * rng.randint(1, 30), stream=True, **kw)
        n = 0
        async for _ in s:
            n += 1
            if disconnect and n == 2:
                await s.close()
                return "dropped"
        return "streamed"
    call = c.chat.completions.create(messages=[{"role": "user", "content": "soak"}], **kw)
    if disconnect:
        try:
            await asyncio.wait_for(call, timeout=rng.uniform(0.005, 0.05))
        except TimeoutError:
            return "dropped"
        return "done"
    await call
    return "done"


async def _soak(r: Running, n: int, seed: int) -> dict[str, int]:
    c = openai.AsyncOpenAI(base_url=r.url + "/v1", api_key="sk-test-key", max_retries=0)
    rng = random.Random(seed)
    sem = asyncio.Semaphore(16)

    async def bounded() -> str:
        async with sem:
            return await _one(c, rng)

    out = await asyncio.gather(*(bounded() for _ in range(n)))
    await c.close()
    return {k: out.count(k) for k in set(out)}


def test_soak_leaves_nothing_behind(tiny_server: Running) -> None:
    asyncio.run(_soak(tiny_server, 30, seed=0))  # warm-up
    tiny_server.wait_idle()
    proc = psutil.Process()
    warm = proc.memory_info().rss
    counts = asyncio.run(_soak(tiny_server, N, seed=1))
    assert sum(counts.values()) == N and counts.get("dropped", 0) > 0
    tiny_server.wait_idle()  # no KV blocks held, no request running or waiting, no slot taken
    assert proc.memory_info().rss <= warm * 1.10
