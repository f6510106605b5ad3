"""The semantic cache's grey-zone judge: what `match` puts to it, the request it sends, and the
live path through the gateway with a mock judge backend (billing, metrics, both verdicts)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from tests.gateway.conftest import chat

from lmforge.gateway.cache import ResponseCache
from lmforge.gateway.config import GatewayConfig
from lmforge.gateway.judge import SHOTS, judge_request

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))


def same_vector(texts: list[str]) -> np.ndarray:
    """Every text at cosine 1 to every other, so only the verifier and the judge decide."""
    return np.tile(np.array([1.0, 0.0], np.float32), (len(texts), 1))


def test_match_splits_verified_grey_and_structural_misses() -> None:
    c = ResponseCache(max_entries=8, ttl_s=60, threshold=0.5)
    v = same_vector(["x"])[0]
    c.put("k", {"a": 1}, "b", "Who wrote Hamlet?", v)
    assert c.match("b", "Who wrote the play Hamlet?", v).hit == {"a": 1}  # an addition: verified
    grey = c.match("b", "Who is the author of Hamlet?", v)  # a word swap: for the judge
    assert grey.hit is None and [e.text for e in grey.grey] == ["Who wrote Hamlet?"]
    assert c.match("b", "Who wrote Macbeth?", v).grey == []  # another name: never judged
    c.put("n", {"a": 2}, "b", "What is 17 times 23?", v)
    assert c.match("b", "What is 17 times 24?", v).grey == []  # another number: never judged


def test_judge_request_is_one_constrained_token_over_both_prompts() -> None:
    req = judge_request("Who wrote Hamlet?", "Who is the author of Hamlet?")
    assert req["max_tokens"] == 1 and req["temperature"] == 0 and req["logprobs"] is True
    last = req["messages"][-1]["content"]
    assert "Who wrote Hamlet?" in last and "Who is the author of Hamlet?" in last
    assert len(req["messages"]) == 2 + 2 * len(SHOTS)
    assert {v for _, _, v in SHOTS} == {"yes", "no"}


def test_judge_must_be_a_backend() -> None:
    with pytest.raises(ValidationError, match="cache judge 'nope' is not a backend"):
        GatewayConfig(
            backends=[{"name": "m", "kind": "openai", "url": "http://x/v1"}],
            cache={"semantic": True, "judge": "nope"},
        )


@pytest.mark.parametrize("verdict", ["yes", "no"])
def test_grey_candidate_goes_to_the_judge_and_is_billed(mock, mock2, gateway, verdict):
    (st, url), (judge_st, judge_url) = mock, mock2
    judge_st.answer = verdict
    cfg = {
        "backends": [
            {"name": "m", "kind": "openai", "url": url, "price_in": 1.0, "price_out": 1.0},
            {"name": "j", "kind": "openai", "url": judge_url, "price_in": 2.0, "price_out": 2.0},
        ],
        "models": [{"name": "auto", "backends": ["m"]}],
        "cache": {"semantic": True, "semantic_threshold": 0.5, "judge": "j"},
    }
    g = gateway(cfg, embed=same_vector)
    c = g.client()
    first = c.post("/chat/completions", json=chat("Who wrote Hamlet?", "auto", temperature=0))
    assert first.json()["lmforge"]["cache"] == "miss" and judge_st.calls == 0
    # a structural near miss is decided without the judge
    r = c.post("/chat/completions", json=chat("Who wrote Macbeth?", "auto", temperature=0))
    assert r.json()["lmforge"]["cache"] == "miss" and judge_st.calls == 0 and st.calls == 2

    reworded = chat("Who is the author of Hamlet?", "auto", temperature=0)
    r = c.post("/chat/completions", json=reworded)
    body = r.json()
    assert judge_st.calls == 2  # both orders
    asked = [b["messages"][-1]["content"] for b in judge_st.bodies]
    assert asked[0] != asked[1] and all("Hamlet" in q for q in asked)
    lines = {ln["backend"]: ln for ln in g.gw.ledger.to_json()["lines"]}
    assert lines["j"]["requests"] == 2 and lines["j"]["cost"] > 0  # the judge is billed
    metric = g.gw.metrics.judge.labels(verdict if verdict == "yes" else "no")._value.get()
    assert metric == 1
    if verdict == "yes":
        assert r.headers["x-lmforge-cache"] == "semantic" and st.calls == 2
        assert body["lmforge"]["judge_p_yes"] == 1.0
        assert body["lmforge"]["cost"] == pytest.approx(lines["j"]["cost"])
        assert body["choices"] == first.json()["choices"]
    else:
        assert r.headers["x-lmforge-cache"] == "miss" and st.calls == 3


def test_choose_bar_admits_no_dev_near_miss() -> None:
    from gateway_cache_judge import choose_bar

    para, near = np.array([0.2, 0.7, 0.9, 0.95]), np.array([0.1, 0.8])
    assert choose_bar(para, near) == 0.9
    assert choose_bar(para, np.array([0.99])) > 1.0  # nothing clears it: the judge admits none


def test_prompt_text_of_a_lone_user_message_is_its_bare_content() -> None:
    from lmforge.gateway.cache import prompt_text

    assert prompt_text(chat("Who wrote Hamlet?")) == "Who wrote Hamlet?"
    two = {"messages": [{"role": "system", "content": "Be brief."}, *chat("Hi")["messages"]]}
    assert prompt_text(two) == "system: Be brief.\nuser: Hi"
