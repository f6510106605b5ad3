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

Closing within budget: a small model can loop inside a JSON string until `max_tokens` cuts it,
leaving unparsable output. Over the last `SamplingParams.json_close` tokens of a JSON request
(json_schema, json_object, or a grammar that embeds `%json`, as tool calls do) the worker
intersects its mask with the closing tokens, in two tiers: first tokens that are `"` followed
only by `]`/`}` (inside a string they end it, and what follows it), else tokens made only of
`]`/`}`. A tier is used only where the grammar allows one of its tokens, so the output stays in
the language; where neither is allowed (a required key still missing, or text that must follow)
the full mask applies and the next step tries again. A row whose grammar allows EOS is left
alone: its output is already complete (or free text, which is cut honestly with "length").
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
JSON_KINDS = ("json_schema", "json_object")


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
        self._closers: tuple[Tensor, Tensor] | None = None

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

    def closers(self) -> tuple[Tensor, Tensor]:
        """The two closing tiers as packed bitmasks (int32 words, llguidance's layout)."""
        if self._closers is None:
            ll = self.ll_tokenizer
            words = (ll.vocab_size + 31) // 32
            tiers = torch.zeros(2, words * 32, dtype=torch.bool)
            brackets = set(b"]}")
            for t in range(ll.vocab_size):
                b = ll.decode_bytes([t])
                if b and b[0] == ord('"') and set(b[1:]) <= brackets:
                    tiers[0, t] = True
                elif b and set(b) <= brackets:
                    tiers[1, t] = True
            words64 = (tiers.view(2, words, 32).to(torch.int64) << torch.arange(32)).sum(-1)
            packed = torch.where(words64 >= 2**31, words64 - 2**32, words64).to(torch.int32)
            self._closers = (packed[0].clone(), packed[1].clone())  # bit j of word w: 32w + j
        return self._closers

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


def _unpack_table() -> Tensor:
    """byte -> its 8 bits as additive logit biases (0 if bit j of byte b is set, else -inf).

    One `index_select` through this table turns a packed llguidance bitmask (little-endian u32
    words, so also little-endian bytes) into a row of biases, and one `add_` applies it: no
    per-step shifts or pads, and no `masked_fill_`, which is ~10x slower on CPU than an add.
    """
    b = torch.arange(256, dtype=torch.int32).unsqueeze(1)
    banned = ((b >> torch.arange(8, dtype=torch.int32)) & 1) == 0
    return torch.zeros(256, 8).masked_fill_(banned, float("-inf"))


class Constraints:
    """The live matchers of an engine's requests and the per-step mask hook.

    Per step: `start` (before the forward) hands this step's matchers to a worker thread that
    fills a preallocated bitmask (one GIL-free llguidance call); `apply` (after the forward)
    waits for it, unpacks it through a byte table into a preallocated bias buffer (0 / -inf)
    and adds that to the logits rows in place; `advance` feeds the sampled tokens. Nothing is
    allocated per step once the buffers have grown to the largest constrained batch seen.
    """

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.matchers: dict[str, Any] = {}
        self.reserve: dict[str, int] = {}  # JSON requests: close over their last n tokens
        self._pool: ThreadPoolExecutor | None = None
        self._executor: Any = None
        self._pending: Future[list[str]] | None = None
        self._bitmask = torch.empty(0, 0, dtype=torch.int32)
        self._bias = torch.empty(0, 0)
        self._index = torch.empty(0, dtype=torch.long)
        self._table = _unpack_table()

    def add(self, request_id: str, params: SamplingParams) -> None:
        matcher = self.compiler.compile(params)
        if matcher is not None:
            self.matchers[request_id] = matcher
            reserve = min(params.json_close, params.max_tokens // 4)
            embeds = params.constraint == "grammar" and "%json" in (params.grammar or "")
            if (params.constraint in JSON_KINDS or embeds) and reserve > 0:
                self.reserve[request_id] = reserve

    def drop(self, request_id: str) -> None:
        self.matchers.pop(request_id, None)
        self.reserve.pop(request_id, None)

    def start(self, rows: list[tuple[str, int]]) -> None:
        """Begin computing the masks for the constrained ones among this step's sampling rows,
        given as (request id, tokens it may still generate)."""
        if self._pending is not None:  # a step that failed before apply(): its buffer is reused
            self._pending.result()
            self._pending = None
        rids = [r for r, _ in rows if r in self.matchers]
        if not rids:
            return
        left = dict(rows)
        closing = [i for i, r in enumerate(rids) if left[r] <= self.reserve.get(r, 0)]
        if self._pool is None:
            from llguidance import LLExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="lmforge-mask")
            self._executor = LLExecutor()
        words = (self.compiler.ll_tokenizer.vocab_size + 31) // 32
        if self._bitmask.shape[0] < len(rids):  # grow (rarely): the largest batch so far
            self._bitmask = torch.empty(len(rids), words, dtype=torch.int32)
            self._bias = torch.empty(len(rids), words * 32)
            self._index = torch.empty(len(rids) * words * 4, dtype=torch.long)
        work = [(self.matchers[r], i) for i, r in enumerate(rids)]
        tiers = self.compiler.closers() if closing else None
        self._pending = self._pool.submit(self._masks, rids, work, closing, tiers)

    def _masks(
        self,
        rids: list[str],
        work: list[tuple[Any, int]],
        closing: list[int],
        tiers: tuple[Tensor, Tensor] | None,
    ) -> list[str]:
        """Worker thread: fill the bitmask rows (llguidance drops the GIL while it computes),
        then narrow the closing rows to the first tier of closers the grammar allows there."""
        bm = self._bitmask
        self._executor.unsafe_compute_mask_ptr(work, bm.data_ptr(), bm.shape[1] * 4, bm.shape[0])
        eos = self.compiler.eos
        for i in closing:
            assert tiers is not None
            if any((int(bm[i, e // 32]) >> (e % 32)) & 1 for e in eos):
                continue  # complete here (or free text): ending is the model's choice
            for tier in tiers:
                narrowed = bm[i] & tier
                if bool(narrowed.any()):
                    bm[i].copy_(narrowed)
                    break
        return rids

    def apply(self, logits: Tensor, request_ids: list[str]) -> None:
        """Mask `logits` rows (one per request id, in order) in place with the started masks."""
        if self._pending is None:
            return
        rids = self._pending.result()
        self._pending = None
        k, vocab = len(rids), logits.shape[1]
        n = k * self._bitmask.shape[1] * 4  # bytes of the k packed rows
        assert vocab <= self._bias.shape[1], "the tokenizer wrap covers the model's vocab"
        if self._bias.dtype != logits.dtype:  # bf16 logits: once (and after a grow)
            self._table = self._table.to(logits.dtype)
            self._bias = self._bias.to(logits.dtype)
        index = self._index[:n]
        index.copy_(self._bitmask[:k].view(torch.uint8).view(-1))
        torch.index_select(self._table, 0, index, out=self._bias[:k].view(n, 8))
        bias = self._bias[:k, :vocab]
        with torch.inference_mode():  # the runner's logits are inference tensors
            if rids == request_ids:  # every sampling row is constrained, in order
                logits.add_(bias)
                return
            row = {r: i for i, r in enumerate(request_ids)}
            for i, r in enumerate(rids):
                logits[row[r]].add_(bias[i])

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


class GenerateMasks:
    """The same masks for transformers' `generate` (a `logits_processor`), one matcher per row.

    For backends that decode with `model.generate` instead of this engine (eval's hf backend).
    Row i of every step's scores is masked by `matchers[i]` (None: a free row); from the second
    call on, each matcher first consumes its row's last token. A stopped matcher allows only
    EOS, so a finished row ends; masks are computed in line (no forward to overlap with here).
    """

    def __init__(self, matchers: list[Any], compiler: Compiler) -> None:
        self.matchers = matchers
        self.words = (compiler.ll_tokenizer.vocab_size + 31) // 32
        self.rows = [i for i, m in enumerate(matchers) if m is not None]
        self._table = _unpack_table()
        self._started = False

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if not self.rows:
            return scores
        if self._started:
            for i in self.rows:
                m = self.matchers[i]
                if not m.is_stopped():  # a rejected token leaves the matcher allowing EOS only
                    m.consume_token(int(input_ids[i, -1]))
        self._started = True
        words = self.words
        bitmask = torch.empty(len(self.rows), words, dtype=torch.int32)
        for k, i in enumerate(self.rows):
            self.matchers[i].unsafe_compute_mask_ptr(bitmask[k].data_ptr(), words * 4)
        index = bitmask.view(torch.uint8).view(-1).long()
        bias = self._table.to(scores.dtype)[index].view(len(self.rows), -1)[:, : scores.shape[1]]
        rows = torch.tensor(self.rows, device=scores.device)
        scores[rows] = scores[rows] + bias.to(scores.device)
        return scores
