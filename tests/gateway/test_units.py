"""Unit tests: config validation, retry/backoff/breaker, cache keys and guards, cascade maths."""

import email.utils
import time

import numpy as np
import pytest
from pydantic import ValidationError

from lmforge.errors import ConfigError
from lmforge.gateway import cascade
from lmforge.gateway.cache import ResponseCache, cacheable, exact_key
from lmforge.gateway.config import BackendConfig, GatewayConfig
from lmforge.gateway.reliability import Breaker, backoff_s, retry_after_s
from lmforge.gateway.synonyms import are_synonyms
from lmforge.gateway.verify import compatible, content_words, salient


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match="needs url"):
        BackendConfig(name="x", kind="openai")
    with pytest.raises(ValidationError, match=r"unknown backends \['nope'\]"):
        GatewayConfig(
            backends=[{"name": "a", "kind": "engine"}], models=[{"name": "m", "backends": ["nope"]}]
        )
    with pytest.raises(ValidationError, match="cascade needs 2"):
        GatewayConfig(
            backends=[{"name": "a", "kind": "engine"}],
            models=[{"name": "m", "policy": "cascade", "backends": ["a"]}],
        )
    with pytest.raises(ValidationError, match="unique"):
        GatewayConfig(backends=[{"name": "a", "kind": "engine"}] * 2)
    b = BackendConfig(name="x", kind="openai", url="http://h/v1", api_key_env="LMF_NOPE_KEY")
    with pytest.raises(ConfigError, match="LMF_NOPE_KEY is not set"):
        b.upstream_key()


def test_retry_after_forms() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_s(future) <= 30  # type: ignore[operator]


def test_backoff_is_jittered_capped_and_honours_retry_after() -> None:
    xs = [backoff_s(3, 0.1, 10.0) for _ in range(200)]
    assert min(xs) >= 0 and max(xs) <= 0.4 and len(set(xs)) > 100
    assert backoff_s(1, 0.1, 10.0, retry_after=2.0) == 2.0
    assert backoff_s(1, 0.1, 5.0, retry_after=3600) == 5.0


def test_breaker_opens_half_opens_and_closes() -> None:
    b = Breaker(failures=2, reset_s=0.05)
    b.failure()
    assert b.allow()
    b.failure()
    assert b.state == "open" and not b.allow()
    time.sleep(0.06)
    assert b.state == "half-open" and b.allow() and not b.allow()  # one trial only
    b.failure()
    assert b.state == "open"
    time.sleep(0.06)
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow()


def test_exact_key_ignores_delivery_fields_and_order() -> None:
    a = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    b = {"temperature": 0, "stream": True, "user": "u", **a}
    assert exact_key("/chat/completions", a) == exact_key("/chat/completions", b)
    assert exact_key("/chat/completions", a) != exact_key("/completions", a)
    assert exact_key("/c", a) != exact_key("/c", {**a, "max_tokens": 5})
    assert cacheable(a) and not cacheable({**a, "temperature": 0.7})
    assert cacheable({**a, "temperature": 0.7, "seed": 1}) and not cacheable({**a, "n": 2})


def test_salient_and_compatible_catch_near_misses() -> None:
    assert salient("Is Jupiter bigger than Saturn, not 3.5x?") == [
        "3.5",
        "jupiter",
        "saturn",
        "NOT",
    ]
    ok = "What is the capital of France?"
    assert compatible(ok, "Tell me: what is the capital city of France?")  # one-sided addition
    assert not compatible(ok, "What is the capital of Spain?")  # entity
    assert not compatible("What is 17 times 23?", "What is 17 times 24?")  # number
    assert not compatible("Can dogs eat grapes?", "Can dogs not eat grapes?")  # negation
    assert not compatible("Can dogs eat grapes?", "Can cats eat grapes?")  # lowercase swap
    assert not compatible("Convert 5 miles to kilometers", "Convert 5 kilometers to miles")  # order


def test_compatible_keeps_paraphrases_that_differ_in_form_only() -> None:
    # "I" is capitalised everywhere: not a name that must match
    assert compatible("How do I sort a list in Python?", "Show me how to sort a list in Python.")
    assert compatible("How do I sort a list in Java?", "What is the way to sort a list using Java?")
    # inflections: supplied / supplies, legal / legally (and "multiply" keeps its "ly")
    assert compatible(
        "Which firm supplied the water in 2020?", "Which firm supplies the water in 2020?"
    )
    assert next(s for s, _ in content_words("multiplied matrices")) == "multiply"
    assert compatible("Is it legal to drive at 16?", "Is it legally allowed to drive at 16?")
    assert not compatible("How do I sort a list in Java?", "How do I sort a list in Rust?")


def test_compatible_frees_word_order_but_binds_units_and_operators() -> None:
    # word order is free; each number keeps its unit
    assert compatible("Convert 5 miles to kilometers.", "How many kilometers are 5 miles?")
    assert not compatible("How many kilometers are 5 miles?", "Convert 5 kilometers to miles.")
    # operators are salient: "times" is "multiplied by", never "plus"
    assert salient("What is 17 times 23?") == ["17", "23", "MUL"]
    assert compatible("What is 17 times 23?", "Calculate 17 multiplied by 23.")
    assert not compatible("What is 17 times 23?", "What is 17 plus 23?")
    # a capital after a sentence end is not a name
    assert salient("What happens in Hamlet? Summarize the plot.") == ["hamlet"]


def test_synonym_swaps_pass_and_antonym_or_noun_swaps_do_not() -> None:
    assert are_synonyms("bigger", "larger") and are_synonyms("purchases", "buys")
    assert not are_synonyms("bigger", "smaller") and not are_synonyms("cat", "dog")
    assert not are_synonyms("dog", "frump")  # a rare sense (dog = frump) does not count
    assert not are_synonyms("minutes", "seconds")  # shared only in "a moment", nobody's first
    assert not compatible("Set a timer for 10 minutes.", "Set a timer for 10 seconds.")
    assert compatible("Is Jupiter bigger than Saturn?", "Is Jupiter larger than Saturn?")
    assert compatible("How do I begin a Python project?", "How to start a new Python project?")
    assert not compatible("Is Jupiter bigger than Saturn?", "Is Jupiter smaller than Saturn?")
    assert not compatible("Can dogs eat grapes?", "Can cats eat grapes?")
    # a synonym swap does not license a second, unrelated replacement
    assert not compatible("Is a big dog heavy?", "Is a large cat heavy?")
    # nor a change of order among the matched words
    assert not compatible("Convert big files to small", "Convert small files to large")


def test_direction_words_bind_the_order_and_verbs_share_the_noun_stem() -> None:
    a = "How do I convert a list to a string in Python?"
    assert not compatible(a, "How do I convert a string to a list in Python?")  # direction
    assert not compatible(
        "Copy a file from the server to the laptop", "Copy a file from the laptop to the server"
    )
    assert compatible("Copy a file from the server to the laptop", "Copy a file to the laptop")
    # order stays free where only one side states a direction
    assert compatible("Convert 5 miles to kilometers.", "How many kilometers are 5 miles?")
    assert compatible("Summarize the plot of Hamlet.", "Give me a summary of the plot of Hamlet.")
    assert not compatible("Summarize the plot of Hamlet.", "Who are the main characters of Hamlet?")


def test_cache_ttl_size_and_semantic_threshold() -> None:
    c = ResponseCache(max_entries=2, ttl_s=0.05, threshold=0.9)
    v = np.array([1.0, 0.0], np.float32)
    c.put("k1", {"a": 1}, "b", "What is the capital of France?", v)
    assert c.get("k1") == {"a": 1}
    assert c.nearest("b", "Tell me the capital of France?", v) == {"a": 1}
    assert c.nearest("other-bucket", "Tell me the capital of France?", v) is None
    far = np.array([0.0, 1.0], np.float32)
    assert c.nearest("b", "Tell me the capital of France?", far) is None  # below the bar
    c.put("k2", {"a": 2}, "b", "x", v)
    c.put("k3", {"a": 3}, "b", "y", v)
    assert len(c.entries) == 2  # size bound (LRU-ish eviction of the oldest)
    time.sleep(0.06)
    assert c.get("k3") is None and c.nearest("b", "y", v) is None  # TTL


def test_margin_and_yes_probability() -> None:
    chat = {
        "choices": [
            {
                "logprobs": {
                    "content": [
                        {
                            "token": "a",
                            "logprob": -0.1,
                            "top_logprobs": [
                                {"token": "a", "logprob": -0.1},
                                {"token": "b", "logprob": -2.1},
                            ],
                        },
                        {
                            "token": "c",
                            "logprob": -0.5,
                            "top_logprobs": [
                                {"token": "c", "logprob": -0.5},
                                {"token": "d", "logprob": -1.5},
                            ],
                        },
                    ]
                }
            }
        ]
    }
    assert cascade.margin(chat) == pytest.approx(1.5)
    comp = {"choices": [{"logprobs": {"top_logprobs": [{" yes": -0.2, " no": -1.8}]}}]}
    assert cascade.margin(comp) == pytest.approx(1.6)
    p = cascade.yes_probability(comp)
    assert p == pytest.approx(np.exp(-0.2) / (np.exp(-0.2) + np.exp(-1.8)))
    assert cascade.margin({"choices": [{"logprobs": None}]}) is None


def test_choose_threshold_is_cheapest_meeting_the_bar() -> None:
    conf = np.array([0.1, 0.2, 0.8, 0.9])
    small_ok = np.array([0, 0, 1, 1], float)
    large_ok = np.ones(4)
    sc, lc = np.ones(4), np.ones(4) * 10
    t = cascade.choose_threshold(conf, small_ok, large_ok, sc, lc, target=1.0)
    o = cascade.simulate(conf, small_ok, large_ok, sc, lc, t)
    assert o.accuracy == 1.0 and o.escalated == 0.5 and o.cost == 24
    pre = cascade.simulate(conf, small_ok, large_ok, sc, lc, t, pre_call=True)
    assert pre.cost == 22  # a router decides before the cheap call
