"""Structured output: llguidance matchers that mask the logits of constrained requests.

Each constrained request owns an `LLMatcher` (llguidance: a token-level parser for JSON Schema,
regex, Lark or a choice list). Every step the matcher's allowed-token bitmask is applied to its
logits row before `sample()`, and the sampled token is fed back. Free and constrained requests
share the batch: only constrained rows are masked.

Overlap: a request's next mask depends only on the tokens it already has, so `Constraints.start`
computes the masks of this step's constrained rows in a worker thread (llguidance releases the
GIL) while the forward pass runs; `apply` waits for them after the forward. A preempted request
keeps its matcher: recomputation re-runs the forward over tokens the matcher has already seen,
and the matcher only moves when a *new* token is sampled, so it is never advanced twice.

Compiling is cached per grammar (compiled matchers are deep-copied per request): the same schema
sent again (a judge, n > 1) compiles once.
"""

import json
import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch import Tensor

from lmforge.engine.sampling_params import SamplingParams
from lmforge.errors import LMForgeError

log = logging.getLogger(__name__)

# JSON compile defaults: one space after ',' and ':' (what models saw most in training), no free
# whitespace (a small model can otherwise emit newlines until max_tokens). A schema's own
# "x-guidance" options override these.
JSON_DEFAULTS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
CACHE_SIZE = 128


def grammar_of(params: SamplingParams) -> str | None:
    """The llguidance grammar for `params`' constraint, or None when it has none."""
    from llguidance import LLMatcher, grammar_from

    kind = params.constraint
    if kind is None:
        return None
    if kind in ("json_schema", "json_object"):
        schema = params.json_schema if kind == "json_schema" else {"type": "object"}
        return LLMatcher.grammar_from_json_schema(schema, defaults=JSON_DEFAULTS)  # type: ignore[arg-type]
    if kind == "regex":
        return LLMatcher.grammar_from_regex(params.regex or "")
    if kind == "choice":
        lark = "start: " + " | ".join(json.dumps(c) for c in params.choice or [])
        return LLMatcher.grammar_from_lark(lark)
    try:
        return grammar_from("grammar", params.grammar or "")  # Lark, or GBNF converted to Lark
    except ValueError as e:
        raise LMForgeError(f"SamplingParams.grammar is invalid: {e}") from None


class Compiler:
    """Grammar -> matcher for one tokenizer, with the tokenizer wrap and compiles cached."""

    def __init__(self, hf_tokenizer: Any, vocab_size: int, eos: frozenset[int]) -> None:
        self.hf_tokenizer = hf_tokenizer
        self.vocab_size = vocab_size
        self.eos = sorted(eos)
        self._ll: Any = None
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def ll_tokenizer(self) -> Any:
        """The llguidance view of the tokenizer (built once, ~1 s: it walks the whole vocab)."""
        with self._lock:
            if self._ll is None:
                import llguidance.hf

                n = max(self.vocab_size, len(self.hf_tokenizer))
                self._ll = llguidance.hf.from_tokenizer(
                    self.hf_tokenizer, n_vocab=n, eos_token=self.eos or None
                )
            return self._ll

    def compile(self, params: SamplingParams) -> Any:
        """A fresh matcher for `params` (None if unconstrained); LMForgeError for a bad one."""
        from llguidance import LLMatcher

        grammar = grammar_of(params)
        if grammar is None:
            return None
        with self._lock:
            hit = self._cache.get(grammar)
            if hit is not None:
                self._cache.move_to_end(grammar)
                return hit.deep_copy()
        matcher = LLMatcher(self.ll_tokenizer, grammar, log_level=0)
        # Warnings are errors too: llguidance warns when it would ignore part of a schema, and
        # silently loosening a constraint is never right.
        problems = [matcher.get_error()] if matcher.is_error() else matcher.get_grammar_warnings()
        if problems:
            msg = "; ".join(problems)
            raise LMForgeError(f"SamplingParams.{params.constraint} is not supported: {msg}")
        with self._lock:
            self._cache[grammar] = matcher
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return matcher.deep_copy()


class Constraints:
    """The live matchers of an engine's requests and the per-step mask hook."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.matchers: dict[str, Any] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[tuple[list[str], Tensor]] | None = None

    def add(self, request_id: str, params: SamplingParams) -> None:
        matcher = self.compiler.compile(params)
        if matcher is not None:
            self.matchers[request_id] = matcher

    def drop(self, request_id: str) -> None:
        self.matchers.pop(request_id, None)

    def start(self, request_ids: list[str]) -> None:
        """Begin computing the masks for the constrained ones among this step's sampling rows."""
        rids = [r for r in request_ids if r in self.matchers]
        if not rids:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="lmforge-mask")
        self._pending = self._pool.submit(self._masks, rids, [self.matchers[r] for r in rids])

    def _masks(self, rids: list[str], matchers: list[Any]) -> tuple[list[str], Tensor]:
        from llguidance.torch import allocate_token_bitmask, fill_next_token_bitmask

        n = self.compiler.ll_tokenizer.vocab_size
        bitmask = allocate_token_bitmask(len(rids), n)
        for i, m in enumerate(matchers):
            fill_next_token_bitmask(m, bitmask, i)
        return rids, bitmask

    def apply(self, logits: Tensor, request_ids: list[str]) -> None:
        """Mask `logits` rows (one per request id, in order) in place with the started masks."""
        if self._pending is None:
            return
        rids, bitmask = self._pending.result()
        self._pending = None
        row = {r: i for i, r in enumerate(request_ids)}
        rows = torch.tensor([row[r] for r in rids], device=logits.device)
        shifts = torch.arange(32, dtype=torch.int32)
        bits = ((bitmask.unsqueeze(-1) >> shifts) & 1).bool().flatten(1)
        vocab = logits.shape[1]
        if bits.shape[1] < vocab:  # rows past the tokenizer are never allowed
            bits = torch.nn.functional.pad(bits, (0, vocab - bits.shape[1]))
        allowed = bits[:, :vocab].to(logits.device)
        with torch.inference_mode():  # the runner's logits are inference tensors
            logits[rows] = logits[rows].masked_fill(~allowed, float("-inf"))

    def advance(self, request_id: str, token: int) -> str | None:
        """Feed the sampled token; "stop" once the output is complete, "error" if rejected."""
        m = self.matchers.get(request_id)
        if m is None:
            return None
        if not m.consume_token(token):
            log.error(
                "request %s: constraint rejected token %d: %s", request_id, token, m.get_error()
            )
            return "error"
        return "stop" if m.is_stopped() else None
