"""AWQ's calibration statistics and clipping: what the scale and clip searches are fed, and
that each clip family lowers the layer's output error."""

import torch
from torch import nn

from lmforge.quant.awq import apply_clip, clip_candidates, search_clip
from lmforge.quant.grid import fake_quant_groups, grouped
from lmforge.quant.quantize import LEADERS, clip_tokens, input_means, whole_sequences


def _batches(n_seq: int, seq: int, batch: int) -> list[torch.Tensor]:
    """Sequences numbered 0.. in every element, position 0 of each a huge 'sink' value."""
    ids = torch.arange(n_seq, dtype=torch.float32)[:, None, None].expand(n_seq, seq, 4).clone()
    ids[:, 0] = 1e4
    return list(ids.split(batch))


def test_whole_sequences_spread_over_batches_keep_the_sink_share() -> None:
    picked = whole_sequences(_batches(128, 512, 16), 2048)
    rows = torch.cat(picked)
    assert rows.shape == (4, 512, 4)  # 2048 tokens as 4 whole sequences
    assert rows[:, 1, 0].tolist() == [0, 32, 64, 96]  # spread over all 8 batches, not batch 0
    sinks = (rows == 1e4).all(-1).float().mean().item()
    assert sinks == 1 / 512  # one per sequence: the text's own share


def test_clip_tokens_is_a_fixed_draw_without_stride_aliasing() -> None:
    x = torch.cat([t.reshape(-1, 4) for t in _batches(8, 256, 4)])
    a, b = clip_tokens(x, 512), clip_tokens(x, 512)
    assert torch.equal(a, b) and a.shape == (512, 4)
    stride = x[:: x.shape[0] // 512]  # the old pick: every 4th token, so every sink
    assert (stride == 1e4).all(-1).sum() == 8
    assert (a == 1e4).all(-1).sum() < 8


class _Layer(nn.Module):
    """The leader linears AWQ observes, fed as in a decoder layer (names as in LINEARS)."""

    def __init__(self) -> None:
        super().__init__()
        self.self_attn = nn.Module()
        self.self_attn.q_proj = nn.Linear(8, 8)
        self.self_attn.o_proj = nn.Linear(8, 8)
        self.mlp = nn.Module()
        self.mlp.gate_proj = nn.Linear(8, 16)
        self.mlp.down_proj = nn.Linear(16, 8)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor]:
        a = self.self_attn.o_proj(self.self_attn.q_proj(h))
        return (self.mlp.down_proj(torch.relu(self.mlp.gate_proj(a))),)


def test_input_means_count_every_token() -> None:
    torch.manual_seed(0)
    layer = _Layer()
    hidden = [torch.randn(3, 5, 8), torch.randn(2, 5, 8)]
    means = input_means(layer, hidden, {})
    assert set(means) == set(LEADERS)
    x = torch.cat(hidden).reshape(-1, 8)
    torch.testing.assert_close(means["self_attn.q_proj"], x.abs().mean(0))
    gate = torch.relu(layer.mlp.gate_proj(layer.self_attn.o_proj(layer.self_attn.q_proj(x))))
    torch.testing.assert_close(means["mlp.down_proj"], gate.abs().mean(0).detach())


def _skewed_layer() -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian weights with one large positive outlier per 64-group (an asymmetric range) on a
    quiet input channel: rounding that one weight coarser costs little, the rest gain."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 256, generator=g) * 0.02
    w[:, ::64] = 0.2
    x = torch.randn(512, 256, generator=g)
    x[:, ::64] *= 0.1
    return w, x


def _out_err(w: torch.Tensor, wq: torch.Tensor, x: torch.Tensor) -> float:
    return (x @ (w - wq).T).pow(2).mean().item()


def test_clip_lowers_the_layer_output_error() -> None:
    w, x = _skewed_layer()
    rtn = fake_quant_groups(w, 4, 64)
    bounds = search_clip(w, x, 4, 64)
    clipped = fake_quant_groups(apply_clip(w, bounds, 64), 4, 64)
    assert _out_err(w, clipped, x) < 0.7 * _out_err(w, rtn, x)
    g = grouped(w, 64)
    assert (bounds[0] >= g.amin(-1) - 1e-7).all() and (bounds[1] <= g.amax(-1) + 1e-7).all()


def test_clip_searches_autoawq_family_next_to_both_ends() -> None:
    """AutoAWQ's +-max|w|*r cut keeps a short negative side exact where scaling both ends
    cannot; searching both families errs no more than either alone."""
    lo, hi = torch.tensor([[-0.05]]), torch.tensor([[0.2]])
    (b_lo, b_hi), (a_lo, a_hi) = clip_candidates(lo, hi, 0.8)
    assert torch.allclose(b_lo, torch.tensor([[-0.04]])) and torch.allclose(b_hi, hi * 0.8)
    assert torch.equal(a_lo, lo) and torch.allclose(a_hi, hi * 0.8)
    w, x = _skewed_layer()
    both = _out_err(w, fake_quant_groups(apply_clip(w, search_clip(w, x, 4, 64), 64), 4, 64), x)
    from lmforge.quant import awq

    def first_family(lo_: torch.Tensor, hi_: torch.Tensor, r: float) -> list:
        return [(lo_ * r, hi_ * r)]

    saved = awq.clip_candidates
    try:
        awq.clip_candidates = first_family
        one = search_clip(w, x, 4, 64)
    finally:
        awq.clip_candidates = saved
    assert both <= _out_err(w, fake_quant_groups(apply_clip(w, one, 64), 4, 64), x) + 1e-12


def test_awq_searches_score_every_token_of_the_bench_calibration() -> None:
    """32 x 256 blocks (bench/quant.py): both searches see all 8192 tokens; a larger set is
    capped to whole sequences spread over it."""
    from lmforge.quant.quantize import AWQ_CLIP_TOKENS, AWQ_SCALE_TOKENS

    picked = torch.cat(whole_sequences(_batches(32, 256, 16), AWQ_SCALE_TOKENS))
    assert picked.shape == (32, 256, 4)
    x = torch.randn(32 * 256, 4)
    assert torch.equal(clip_tokens(x, AWQ_CLIP_TOKENS), x)
    big = torch.cat(whole_sequences(_batches(128, 256, 16), AWQ_SCALE_TOKENS))
    assert big.shape[0] * 256 == AWQ_SCALE_TOKENS and big[:, 1, 0].tolist()[:3] == [0, 4, 8]


def _bursty(tokens: int, g: torch.Generator) -> torch.Tensor:
    """Activations whose first channel of each 64-group is silent except on ~0.3% of tokens,
    where it is 30x the rest: a 512-token sample sees one or two bursts per channel."""
    x = torch.randn(tokens, 256, generator=g)
    burst = torch.rand(tokens, 1, generator=g) < 0.003
    x[:, ::64] = torch.where(burst, 30.0 * torch.randn(tokens, 4, generator=g), 0.01)
    return x


def test_clip_searched_on_more_tokens_errs_less_on_held_tokens() -> None:
    """Why the clip search scores every calibration token, not 512: fitted to a sample with few
    bursts it clips the large weights those bursts meet, and held-out text pays for it."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 256, generator=g) * 0.02
    w[:, ::64] = 0.1 * torch.randn(64, 4, generator=g).sign()
    calib, held = _bursty(8192, g), _bursty(8192, g)

    def held_err(x: torch.Tensor) -> float:
        clipped = apply_clip(w, search_clip(w, x, 4, 64), 64)
        return _out_err(w, fake_quant_groups(clipped, 4, 64), held)

    every = held_err(calib)
    assert every < 0.8 * held_err(clip_tokens(calib, 512))
    assert every < _out_err(w, fake_quant_groups(w, 4, 64), held)  # and it still beats RTN


def test_awq_resume_state_is_keyed_by_the_search_token_counts() -> None:
    from pathlib import Path

    from lmforge.quant.config import QuantizeConfig
    from lmforge.quant.quantize import AWQ_CLIP_TOKENS, AWQ_SCALE_TOKENS, fingerprint

    awq = fingerprint(QuantizeConfig(method="awq", out="o"), Path("m"))
    assert awq["awq_tokens"] == [AWQ_SCALE_TOKENS, AWQ_CLIP_TOKENS]
    assert "awq_tokens" not in fingerprint(QuantizeConfig(method="gptq", out="o"), Path("m"))


def test_gram_loss_picks_the_same_scale_as_the_direct_output_loss() -> None:
    """The linear-output loss from X^T X / n is the mean squared output error itself: the
    search picks the same scale as scoring x @ W'^T against x @ W^T token by token."""
    from lmforge.quant.awq import search_scales

    g = torch.Generator().manual_seed(1)
    w = torch.randn(32, 256, generator=g) * 0.05
    x = torch.randn(300, 256, generator=g) * torch.rand(256, generator=g) * 3
    x[:, 5] *= 25  # a salient channel, so alpha > 0 wins
    direct = search_scales([w], x, 4, 64, block=lambda ws: x @ torch.cat(ws).T)
    gram = search_scales([w], x, 4, 64)
    assert not torch.equal(gram, torch.ones_like(gram))
    torch.testing.assert_close(gram, direct)
