"""The synchronous engine: requests in, one scheduled forward per `step()`, outputs out.

`LLMEngine` is the single owner of the scheduler, block manager and model runner; `LLM` (batch
generation) and `AsyncLLMEngine` (streaming, for the server) are thin drivers around `step()`.
"""

import dataclasses
import logging
import time
import uuid
from typing import Any

import torch

from lmforge.engine.block_manager import BlockManager
from lmforge.engine.config import EngineConfig
from lmforge.engine.constraint import Compiler, Constraints
from lmforge.engine.cpu import choose
from lmforge.engine.detokenizer import Detokenizer
from lmforge.engine.device import resolve_device, resolve_dtype
from lmforge.engine.kernels import choose as choose_gemm
from lmforge.engine.llama import ModelSpec
from lmforge.engine.loader import load_llama
from lmforge.engine.lora import Adapter, LoRAManager
from lmforge.engine.model_runner import ModelRunner
from lmforge.engine.outputs import EngineStats, Logprob, RequestOutput
from lmforge.engine.quant import quantize, weight_bytes
from lmforge.engine.request import Request, eos_ids
from lmforge.engine.rope import apply_rope_scaling, context_limit
from lmforge.engine.sampler import Sampled, sample
from lmforge.engine.sampling_params import SamplingParams
from lmforge.engine.scheduler import Scheduled, Scheduler
from lmforge.engine.scoring import RowWant, gather_logprobs
from lmforge.engine.sequence import Sequence, Status
from lmforge.engine.spec import build as build_spec
from lmforge.errors import LMForgeError

log = logging.getLogger(__name__)


class LLMEngine:
    def __init__(self, config: EngineConfig | None = None, **overrides: Any) -> None:
        from transformers import AutoTokenizer

        from lmforge.models.loader import resolve_model_dir

        cfg = (config or EngineConfig()).model_copy(update=overrides)
        cfg = EngineConfig.model_validate(cfg.model_dump())  # re-validate the overrides
        self.config = cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device, quantized=cfg.quantization != "none")
        self.kernels = choose(cfg.quantization, cfg.cpu_kernels)
        self.path = resolve_model_dir(cfg.model)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        from transformers import AutoConfig

        hf = AutoConfig.from_pretrained(self.path)
        apply_rope_scaling(hf, cfg.rope_scaling, str(self.path))
        window = (
            getattr(hf, "sliding_window", None) if getattr(hf, "use_sliding_window", True) else None
        )
        if window and ModelSpec.from_hf(hf, str(self.path)).sliding_window:
            window = None  # every layer slides: attention masks it, no cap on the context
        self.max_model_len = min(x for x in (cfg.max_model_len, context_limit(hf), window) if x)
        dtype = resolve_dtype(cfg.dtype, self.device)
        model, _ = load_llama(self.path, self.max_model_len, dtype, cfg.rope_scaling)
        self.quant_report = (
            quantize(model, cfg.quantization, cfg.int4_group_size, self.kernels.act_dtype)
            if cfg.quantization != "none"
            else {}
        )
        self.model = model.to(self.device)
        if cfg.quantization != "none":
            gemm = choose_gemm()
            log.info(
                "CPU kernels: %s activations (%s); GEMM %s (%s) on %d of %d layers",
                self.kernels.name,
                self.kernels.reason,
                gemm.name,
                gemm.reason,
                self.quant_report["ours"],
                self.quant_report["quantized"],
            )
        self.weight_bytes = weight_bytes(self.model)
        self.runner = ModelRunner(
            self.model,
            cfg.block_size,
            dtype,
            self.device,
            cfg.kv_cache_gb,
            cfg.kv_cache_fraction,
            cfg.kv_cache_dtype,
        )
        self.blocks = BlockManager(
            self.runner.num_blocks, cfg.block_size, cfg.enable_prefix_caching
        )
        log.info(
            "KV cache: %d blocks x %d tokens (%.3f GB, %s); weights %.1f MiB (%s)",
            self.runner.num_blocks,
            cfg.block_size,
            self.runner.kv_bytes / 1e9,
            cfg.kv_cache_dtype,
            self.weight_bytes / 2**20,
            cfg.quantization,
        )
        self.scheduler = Scheduler(self.blocks, cfg.max_num_seqs, cfg.max_num_batched_tokens)
        self.lora = LoRAManager(self.model, cfg.max_loras, cfg.max_lora_rank, dtype, self.device)
        self.runner.lora = self.lora
        for name, adapter_dir in cfg.adapters.items():
            self.lora.load(name, adapter_dir)
        vocab = self.model.spec.vocab_size
        self.spec = build_spec(cfg, self.blocks, self.max_model_len, dtype, self.device, vocab)
        self.eos = eos_ids(self.path, self.tokenizer)
        self.constraints = Constraints(
            Compiler(self.tokenizer, self.model.spec.vocab_size, self.eos)
        )
        self.requests: dict[str, Request] = {}
        self._prompt_tokens = self._gen_tokens = self._steps = 0

    # ---- requests --------------------------------------------------------------------------
    def add_request(
        self,
        prompt: str | list[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
        arrival: float | None = None,
        targets: dict[int, list[int]] | None = None,
    ) -> str:
        """Queue a request; raise LMForgeError now if it could never fit. Returns its id.

        `targets` (scoring, see LLM.score) asks for the log-probs of given tokens at given
        positions of the prompt, p -> tokens as token p + 1 (p may be the last position);
        they come back in `RequestOutput.row_logprobs`. Needs `max_tokens=0`.
        """
        params = params or SamplingParams()
        rid = request_id or uuid.uuid4().hex
        if rid in self.requests:
            raise LMForgeError(f"request id {rid!r} is already in use")
        ids = (
            self.tokenizer.encode(prompt, add_special_tokens=False)
            if isinstance(prompt, str)
            else list(prompt)
        )
        if not ids:
            raise LMForgeError(f"request {rid}: empty prompt; give at least one token")
        vocab = self.model.spec.vocab_size
        if not all(0 <= t < vocab for t in ids):
            raise LMForgeError(f"request {rid}: prompt token ids must be in [0, {vocab})")
        need = len(ids) + params.max_tokens
        if need > self.max_model_len:
            raise LMForgeError(
                f"request {rid}: prompt ({len(ids)} tokens) + max_tokens ({params.max_tokens}) = "
                f"{need} exceeds max_model_len {self.max_model_len}; shorten prompt or max_tokens"
            )
        capacity = self.runner.num_blocks * self.config.block_size
        if need > capacity:
            raise LMForgeError(
                f"request {rid}: needs {need} tokens of KV cache but the whole cache holds "
                f"{capacity} ({self.runner.num_blocks} blocks); raise kv_cache_gb"
            )
        seq = Sequence(rid, ids, params, arrival or time.perf_counter())
        if params.adapter:  # AdapterError (missing/unfit) before anything is queued
            seq.adapter = self.lora.get(params.adapter, self._adapters_in_use())
            seq.cache_salt = seq.adapter.salt
        gen = None
        if params.seed is not None:
            gen = torch.Generator(device=self.device).manual_seed(params.seed)
        stop_ids = frozenset(params.stop_token_ids) | (
            frozenset() if params.ignore_eos else self.eos
        )
        detok = Detokenizer(
            self.tokenizer,
            ids,
            params.skip_special_tokens,
            list(params.stop),
            params.include_stop_str_in_output,
        )
        self.constraints.add(rid, params)  # compiles (cached); LMForgeError for a bad one
        req = Request(seq, detok, gen, stop_ids)
        if targets:
            assert params.max_tokens == 0, "scoring targets go with max_tokens=0"
            assert all(0 <= p < len(ids) for p in targets), "target positions must be in the prompt"
            req.targets, req.scoring = targets, True
        elif params.prompt_logprobs is not None:
            req.targets = {p: [ids[p + 1]] for p in range(len(ids) - 1)}
            req.top_n = params.prompt_logprobs
        seq.logits_from = min(req.targets) if req.targets else None
        self.requests[rid] = req
        self.scheduler.add(seq)
        return rid

    def abort_request(self, request_id: str) -> RequestOutput | None:
        """Stop a request now and free its blocks; returns its final output (None if unknown)."""
        req = self.requests.get(request_id)
        if req is None:
            return None
        self.scheduler.finish(req.seq, "abort")
        return self._finish_output(req, [])

    def has_unfinished(self) -> bool:
        return self.scheduler.has_work()

    # ---- LoRA adapters (engine/lora.py); call between steps ----------------------------------
    def load_adapter(self, name: str, path: str) -> Adapter:
        """Load (or reload) a PEFT LoRA adapter; requests name it in SamplingParams.adapter."""
        return self.lora.load(name, path, self._adapters_in_use())

    def unload_adapter(self, name: str) -> None:
        """Forget an adapter; running requests keep theirs until they finish."""
        self.lora.unload(name)

    def _adapters_in_use(self) -> set[str]:
        return {r.seq.adapter.name for r in self.requests.values() if r.seq.adapter}

    # ---- the step --------------------------------------------------------------------------
    def step(self) -> list[RequestOutput]:
        """Schedule, run one forward, sample, detokenize; return outputs of requests that moved."""
        batch = self.scheduler.schedule()
        if not batch:
            return []
        self._steps += 1
        self.constraints.start(
            [
                (it.seq.request_id, self._tokens_left(it.seq))
                for it in batch
                if it.samples and it.seq.params.max_tokens > 0
            ]
        )
        gens = {rid: r.generator for rid, r in self.requests.items() if r.generator}
        self.spec.plan(batch, len(self.scheduler.running), self.max_model_len, gens)
        logits = self.runner.run(batch)  # reorders `batch`; the masks compute meanwhile
        sampling, picks, verifying = self._take_rows(batch, logits)
        done = [it.seq for it in batch if it.samples and it.seq.params.max_tokens == 0]
        chosen = logits[picks] if sampling else logits[:0]
        self.constraints.apply(chosen, [s.request_id for s in sampling])
        for it in (it for it in batch if not it.draft):  # verified ones move in _verify
            s = it.seq
            self._prompt_tokens += max(
                0, min(len(s.prompt_ids), s.num_computed + it.num_tokens) - s.num_computed
            )
            s.num_computed += it.num_tokens
            self.blocks.register(s)
        now = time.perf_counter()
        outs = []
        smps = sample(chosen, sampling, gens) if sampling else []
        for seq, smp in zip(sampling, smps, strict=True):
            outs.append(self._append(self.requests[seq.request_id], smp, now))
        outs.extend(self._verify(it, logits[at : at + it.draft + 1], now) for it, at in verifying)
        for seq in done:  # score-only: the prompt is computed and its rows are read
            req = self.requests[seq.request_id]
            self.scheduler.finish(seq, "length")
            outs.append(self._finish_output(req, []))
        return outs

    def _tokens_left(self, seq: Sequence) -> int:
        """How many tokens `seq` may still generate, counting the one sampled this step."""
        return min(seq.params.max_tokens - len(seq.output_ids), self.max_model_len - len(seq))

    def _verify(self, it: Scheduled, logits: torch.Tensor, now: float) -> RequestOutput:
        """Keep the accepted drafts of a speculating sequence plus one token; one output."""
        req = self.requests[it.seq.request_id]
        tokens = self.spec.accept(it, logits, req.generator)
        self.blocks.register(it.seq)
        texts, ids = [], []
        for tok in tokens:
            out = self._append(req, Sampled(tok), now)
            texts.append(out.delta_text)
            ids.append(tok)
            if out.finished:
                break
        return dataclasses.replace(out, delta_token_ids=ids, delta_text="".join(texts))

    def _take_rows(self, batch: list[Scheduled], logits: torch.Tensor) -> tuple[list, list, list]:
        """Read the wanted rows (prompt logprobs, scoring) with one batched log-softmax; return
        the sampling sequences, their rows, and the speculating items with their first row.

        Advances each reading sequence's `logits_from` past what it read, so preemption never
        re-reads a row. Must run before `num_computed` moves (`rows` depend on it).
        """
        sampling, picks, wants, owners, verifying, at = [], [], [], [], [], 0
        for it in batch:
            rows, s = it.rows, it.seq
            if it.draft:
                verifying.append((it, at))
                at += len(rows)
                continue
            if s.logits_from is not None:
                req = self.requests[s.request_id]
                for j, p in enumerate(rows):
                    if p >= s.logits_from and p in req.targets:
                        wants.append(RowWant(p, req.targets[p], req.top_n))
                        owners.append((req, at + j))
                if rows and rows.start <= s.logits_from < rows.stop:
                    s.logits_from = rows.stop if rows.stop <= max(req.targets) else None
            if it.samples and s.params.max_tokens > 0:
                sampling.append(s)
                picks.append(at + len(rows) - 1)
            at += len(rows)
        assert at == logits.shape[0], f"runner returned {logits.shape[0]} rows, batch wants {at}"
        if wants:
            idx = torch.tensor([i for _, i in owners], device=logits.device)
            for (req, _), want, row in zip(
                owners, wants, gather_logprobs(logits[idx], wants), strict=True
            ):
                req.rows[want.position] = row
        return sampling, picks, verifying

    def _append(self, req: Request, smp: Any, now: float) -> RequestOutput:
        seq, p = req.seq, req.seq.params
        seq.output_ids.append(smp.token)
        self._gen_tokens += 1
        if req.first_token is None:
            req.first_token = now
        else:
            req.itl.append(now - (req.last_token or now))
        req.last_token = now
        if smp.logprob is not None:
            req.logprobs.append(smp.logprob)
            req.top.append(smp.top or [])
        reason = None
        verdict = self.constraints.advance(seq.request_id, smp.token)
        if verdict == "error":
            reason = "abort"
        elif smp.token in req.stop_ids:
            reason, req.stop_reason = "stop", smp.token
        elif (stop := req.detok.add(smp.token)) is not None:
            reason, req.stop_reason = "stop", stop
        elif verdict == "stop":  # the constrained output is complete
            reason = "stop"
        elif len(seq.output_ids) >= p.max_tokens or len(seq) >= self.max_model_len:
            reason = "length"
        if reason:
            self.scheduler.finish(seq, reason)
            return self._finish_output(req, [smp.token])
        return self._output(req, [smp.token], req.detok.delta(final=False))

    def _finish_output(self, req: Request, delta_ids: list[int]) -> RequestOutput:
        del self.requests[req.seq.request_id]
        self.constraints.drop(req.seq.request_id)
        self.spec.drop(req.seq.request_id)
        return self._output(req, delta_ids, req.detok.delta(final=True))

    def _output(self, req: Request, delta_ids: list[int], delta_text: str) -> RequestOutput:
        seq = req.seq
        return RequestOutput(
            request_id=seq.request_id,
            prompt_token_ids=seq.prompt_ids,
            text=req.detok.text,
            token_ids=list(seq.output_ids),
            delta_text=delta_text,
            delta_token_ids=delta_ids,
            finished=seq.status is Status.FINISHED,
            finish_reason=seq.finish_reason,
            stop_reason=req.stop_reason,
            logprobs=list(req.logprobs) if seq.params.logprobs is not None else None,
            top_logprobs=list(req.top) if seq.params.logprobs is not None else None,
            ttft=req.first_token - seq.arrival if req.first_token else None,
            itl=list(req.itl),
            prompt_logprobs=self._prompt_logprobs(req),
            row_logprobs=dict(req.rows) if req.scoring else None,
            num_cached_tokens=seq.num_cached,
            num_preemptions=seq.num_preemptions,
        )

    @staticmethod
    def _prompt_logprobs(req: Request) -> list[dict[int, Logprob] | None] | None:
        """vLLM's layout: one entry per prompt token, None for the first (it has no context)."""
        seq = req.seq
        if req.scoring or seq.params.prompt_logprobs is None or seq.logits_from is not None:
            return None
        if req.prompt_lps is None:
            n = len(seq.prompt_ids)
            req.prompt_lps = [None] + [req.rows[p] for p in range(n - 1)]
        return req.prompt_lps

    def stats(self) -> EngineStats:
        return EngineStats(
            num_running=len(self.scheduler.running),
            num_waiting=len(self.scheduler.waiting),
            kv_usage=self.blocks.usage,
            num_blocks=self.runner.num_blocks,
            block_size=self.config.block_size,
            prefix_cache_hits=self.blocks.hits,
            prefix_cache_queries=self.blocks.queries,
            prompt_tokens=self._prompt_tokens,
            generation_tokens=self._gen_tokens,
            num_preemptions=self.scheduler.num_preemptions,
            num_steps=self._steps,
        )
