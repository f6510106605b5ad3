"""transformers backend: the model loaded by lmforge.models, batched on CPU or GPU.

Log-likelihoods follow lm-evaluation-harness's HFLM exactly (no special tokens added, context
trailing spaces moved onto the continuation, an empty context replaced by the EOS token, left
truncation to the model's length), so multiple-choice accuracy matches lm-eval's on the same
prompts. Batches are sorted by length to waste little padding.

An item's choices share one forward pass (engine/scoring.py's plan, the same the engine uses):
the context runs once with a KV cache, its last row scores every choice's first token, and the
choices' remaining tokens run as one right-padded batch over the context's cache, repeated per
branch. MMLU's one-token choices cost one context pass in all (lm-evaluation-harness gets the
same by grouping identical inputs); multi-token choices (GPQA's " (A)") add a few tokens, not
a context each.
"""

import functools
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lmforge.engine.scoring import (
    ContinuationScore,
    ItemRows,
    RowWant,
    gather_logprobs,
    merge_rows,
    plan_item,
    read_scores,
)
from lmforge.eval.backends.base import (
    GenRequest,
    LoglikResult,
    RollingResult,
    encode_pair,
    group_items,
    prompt_text,
    rolling_windows,
    truncate_at_stop,
)
from lmforge.models import load_model


def _batches(order: Sequence[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(order), size):
        yield list(order[i : i + size])


class HFBackend:
    name = "hf"
    structured = True  # GenRequest.json_schema masks generate()'s logits (llguidance)

    def __init__(
        self, model: str, batch_size: int = 8, device: str = "cpu", max_length: int | None = None
    ) -> None:
        loaded = load_model(model, device=device)
        self.model, self.tokenizer, self.device = loaded.model, loaded.tokenizer, device
        self.batch_size = batch_size
        cfg_len = getattr(self.model.config, "max_position_embeddings", 2048)
        self.max_length = max_length or min(cfg_len, 8192)
        eos = self.tokenizer.eos_token_id
        self.prefix_id = eos if eos is not None else self.tokenizer.pad_token_id
        assert self.prefix_id is not None, "tokenizer has neither EOS nor PAD"
        self._compiler: Any = None  # llguidance's tokenizer wrap, built on the first schema

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        return encode_pair(self.encode, self.prefix_id, context, continuation)

    @torch.inference_mode()
    def _score(self, seqs: list[tuple[list[int], int]]) -> list[tuple[float, bool]]:
        """Sum of log-probs of the last `n` tokens of each sequence, and greedy-match flags.

        Only the scored positions go through the LM head: full-width logits of a 16 x 3,000
        token GPQA batch are 9 GB (49k-word vocabulary) and most of the head's FLOPs.
        """
        out: list[tuple[float, bool]] = [(0.0, False)] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i][0]))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        body, head = self.model.get_decoder(), self.model.get_output_embeddings()
        for batch in _batches(order, self.batch_size):
            inputs = [seqs[i][0][-(self.max_length + 1) :][:-1] for i in batch]
            width = max(len(x) for x in inputs)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, x in enumerate(inputs):
                ids[r, : len(x)] = torch.tensor(x)
                mask[r, : len(x)] = 1
            hidden = body(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
            spans = [(len(inputs[r]) - seqs[i][1], len(inputs[r])) for r, i in enumerate(batch)]
            rows = torch.cat([hidden.last_hidden_state[r, b:e] for r, (b, e) in enumerate(spans)])
            logp = F.log_softmax(head(rows).float(), dim=-1).cpu()
            start = 0
            for i, (b, e) in zip(batch, spans, strict=True):
                tokens, n = seqs[i]
                target = torch.tensor(tokens[-n:])
                part = logp[start : start + e - b]
                start += e - b
                lp = part.gather(1, target[:, None]).sum().item()
                out[i] = (lp, bool((part.argmax(-1) == target).all()))
        return out

    @torch.inference_mode()
    def score_item(self, context: list[int], conts: list[list[int]]) -> list[ContinuationScore]:
        """One item's continuations after one context pass (see the module docstring)."""
        plan = plan_item(0, context, conts)
        body, head = self.model.get_decoder(), self.model.get_output_embeddings()
        first, rest = plan[0], plan[1:]
        dev = self.device
        out = body(input_ids=torch.tensor([first.prompt], device=dev), use_cache=bool(rest))
        picks = [(out.last_hidden_state[0], 0, first)]  # (hidden states, their offset, branch)
        if rest:
            n = len(first.prompt)
            feeds = [b.prompt[n:] for b in rest]
            width = max(map(len, feeds))
            ids = torch.tensor([f + [f[-1]] * (width - len(f)) for f in feeds], device=dev)
            cache = out.cache
            cache.batch_repeat_interleave(len(rest))
            hidden = body(input_ids=ids, cache=cache).last_hidden_state
            picks += [(hidden[r], n, b) for r, b in enumerate(rest)]
        rows_h, wants, owners = [], [], []
        for h, off, b in picks:
            for p in sorted(b.targets):
                rows_h.append(h[p - off])
                wants.append(RowWant(p, b.targets[p]))
                owners.append(b)
        logp = gather_logprobs(head(torch.stack(rows_h)), wants)
        merged: ItemRows = {}
        for b, w, row in zip(owners, wants, logp, strict=True):
            merge_rows(len(context), b, {w.position: row}, merged)
        return read_scores(len(context), conts, merged)

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[LoglikResult]:
        pairs = self._pairs(requests)
        out: list[LoglikResult] = [LoglikResult(0.0, False, 0)] * len(requests)
        for ctx, members in group_items(pairs):
            scores = self.score_item(ctx, [pairs[i][1] for i in members])
            for i, sc in zip(members, scores, strict=True):
                out[i] = LoglikResult(sc.logprob, sc.greedy, len(pairs[i][1]))
        return out

    def _pairs(self, requests: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """Token pairs, the context left-truncated so context + continuation fit the model."""
        pairs, enc = [], functools.lru_cache(maxsize=1024)(self.encode)  # choices share contexts
        for c, x in requests:
            ctx, cont = encode_pair(enc, self.prefix_id, c, x)
            if not cont:
                raise ValueError(f"empty continuation after tokenization: {x!r} after {c[-40:]!r}")
            keep = max(self.max_length + 1 - len(cont), 1)
            pairs.append((ctx[-keep:], cont[-self.max_length :]))
        return pairs

    def loglikelihood_rolling(
        self, texts: list[str], max_length: int, stride: int
    ) -> list[RollingResult]:
        max_length = min(max_length, self.max_length)  # a short model caps the window
        stride = min(stride, max_length)
        results = []
        for text in texts:
            tokens = [self.prefix_id, *self.encode(text)]  # EOS prefix: the first word is scored
            windows = rolling_windows(len(tokens), max_length, stride)
            # a window scoring all its tokens (stride == max_length) starts one token early:
            # its first token is predicted from the token before it, as in lm-eval
            scored = self._score([(tokens[min(b, e - n - 1) : e], n) for b, e, n in windows])
            total = sum(lp for lp, _ in scored)
            results.append(RollingResult(total, len(tokens) - 1, len(windows)))
        return results

    @torch.inference_mode()
    def _masks(self, batch: list[GenRequest], n: int) -> Any:
        """generate()'s logits processor for a batch's schemas: one matcher per returned row."""
        from transformers import LogitsProcessorList

        from lmforge.engine.constraint import Compiler, GenerateMasks
        from lmforge.engine.sampling_params import SamplingParams

        if self._compiler is None:
            eos = self.model.generation_config.eos_token_id
            eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
            vocab = self.model.get_output_embeddings().weight.shape[0]
            self._compiler = Compiler(self.tokenizer, vocab, frozenset(eos))
        matchers = [
            self._compiler.compile(SamplingParams(json_schema=r.json_schema))
            if r.json_schema is not None
            else None
            for r in batch
            for _ in range(n)
        ]
        return LogitsProcessorList([GenerateMasks(matchers, self._compiler)])

    def generate(self, requests: list[GenRequest]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in requests]
        texts = [prompt_text(r, self.tokenizer) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: -len(texts[i]))
        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        # Group by identical sampling settings: one generate() call takes one config.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in order:
            r = requests[i]
            key = (r.max_new_tokens, r.temperature, r.top_p, r.n, r.stop, r.seed)
            groups.setdefault(key, []).append(i)
        for (max_new, temp, top_p, n, stop, seed), idxs in groups.items():
            for batch in _batches(idxs, max(1, self.batch_size // n)):
                enc = tok([texts[i] for i in batch], return_tensors="pt", padding=True)
                enc = {k: v.to(self.device) for k, v in enc.items()}
                torch.manual_seed(seed)
                kwargs: dict[str, Any] = dict(
                    max_new_tokens=max_new,
                    num_return_sequences=n,
                    pad_token_id=tok.pad_token_id,
                    do_sample=temp > 0,
                )
                if temp > 0:
                    kwargs.update(temperature=temp, top_p=top_p)
                if stop:
                    kwargs.update(stop_strings=list(stop), tokenizer=tok)
                if any(requests[i].json_schema is not None for i in batch):
                    kwargs.update(logits_processor=self._masks([requests[i] for i in batch], n))
                gen = self.model.generate(**enc, **kwargs)
                new = gen[:, enc["input_ids"].shape[1] :]
                decoded = tok.batch_decode(new, skip_special_tokens=True)
                for j, i in enumerate(batch):
                    out[i] = [truncate_at_stop(t, stop) for t in decoded[j * n : (j + 1) * n]]
        return out
