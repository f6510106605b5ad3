"""Generate with the engine from the example YAML, streaming the first request to stdout.

python examples/engine/generate.py [examples/engine/engine.yaml]
"""

import sys

from lmforge.config import load_config
from lmforge.engine import LLM, EngineConfig, RequestOutput, SamplingParams

cfg = load_config(EngineConfig, sys.argv[1] if len(sys.argv) > 1 else "examples/engine/engine.yaml")
llm = LLM(config=cfg)
questions = ["What is a language model?", "Name three primary colours.", "Why is the sky blue?"]
convs = [[{"role": "user", "content": q}] for q in questions]
params = SamplingParams(max_tokens=64, temperature=0.7, top_p=0.9, seed=0)
prompts = [
    llm.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs
]
first = None


def stream(out: RequestOutput) -> None:
    global first
    first = first or out.request_id
    if out.request_id == first:
        print(out.delta_text, end="", flush=True)


outs = llm.generate(prompts, params, on_output=stream)
print()
for q, o in zip(questions, outs, strict=True):
    print(
        f"\n> {q}\n{o.text.strip()}\n[{len(o.token_ids)} tokens, {o.finish_reason}, "
        f"TTFT {o.ttft * 1000:.0f} ms, mean ITL {(o.mean_itl or 0) * 1000:.1f} ms]"
    )
print(llm.engine.stats())
