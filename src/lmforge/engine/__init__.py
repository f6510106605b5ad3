"""lmforge's inference engine: paged KV cache, continuous batching, sampling, quantization.

Layers, bottom up (nano-vllm's split): sequence -> block_manager -> scheduler -> llama/attention
(the model over paged KV) -> model_runner -> sampler/detokenizer -> llm_engine -> llm (batch) and
async_engine (streaming, for the server). See docs/engine.md.
"""

from lmforge.engine.async_engine import AsyncLLMEngine
from lmforge.engine.config import EngineConfig
from lmforge.engine.llm import LLM
from lmforge.engine.llm_engine import LLMEngine
from lmforge.engine.outputs import EngineStats, RequestOutput
from lmforge.engine.sampling_params import SamplingParams

__all__ = [
    "LLM",
    "AsyncLLMEngine",
    "EngineConfig",
    "EngineStats",
    "LLMEngine",
    "RequestOutput",
    "SamplingParams",
]
