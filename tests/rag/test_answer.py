from lmforge.rag.answer import NOT_IN_DOCS, RagPipeline, check_citations
from lmforge.rag.factory import make_retriever, open_store
from lmforge.rag.index import build_index
from lmforge.rag.transforms import HyDE, MultiQuery, Route, Router, paraphrases


def test_check_citations_removes_invented_numbers():
    text, valid, invalid = check_citations("Cats eat fish [1][7]. Dogs bark [2, 9].", 3)
    assert text == "Cats eat fish [1]. Dogs bark [2]."
    assert (valid, invalid) == ([1, 2], [7, 9])


def pipeline(cfg, embedder, llm, **kw):
    build_index(cfg, embedder)
    retriever = make_retriever(cfg, open_store(cfg, embedder), embedder, llm)
    return RagPipeline(retriever, llm, cfg.top_k, cfg.min_score, 32, **kw)


def test_ask_numbers_context_checks_citations_and_runs_filters(cfg, embedder, fake_llm):
    llm = fake_llm("Cats eat fish and mice [1] [4].")
    seen = []

    def guard(hits):
        seen.append([h.chunk.text for h in hits])
        return [h for h in hits if "Dogs" not in h.chunk.text]

    answer = pipeline(cfg, embedder, llm, filters=[guard]).ask("What do cats eat?")
    assert answer.grounded and answer.text == "Cats eat fish and mice [1]."
    assert (answer.citations, answer.invalid_citations) == ([1], [4])
    assert "fish" in answer.hits[0].chunk.text and len(seen[0]) == 3
    assert not any("Dogs" in h.chunk.text for h in answer.hits)
    prompt = llm.prompts[0]
    assert "[1] (Cats > Food)" in prompt and "Question: What do cats eat?" in prompt
    assert answer.sources[0]["headings"] == ["Cats", "Food"]


def test_nothing_relevant_says_the_documents_do_not_say(cfg, embedder, fake_llm):
    llm = fake_llm("made up")
    p = pipeline(cfg, embedder, llm)
    answer = p.ask("What was the GDP of Mongolia in 1830?")
    assert answer.text == NOT_IN_DOCS and not answer.grounded and llm.prompts == []
    streamed = list(p.stream("Quarterly revenue of the semiconductor division?"))
    assert streamed[0] == NOT_IN_DOCS and streamed[-1].text == NOT_IN_DOCS


def test_stream_yields_pieces_then_the_checked_answer(cfg, embedder, fake_llm):
    pieces = list(pipeline(cfg, embedder, fake_llm("It is in Paris [1]")).stream("Eiffel tower?"))
    assert "".join(pieces[:-1]) == "ItisinParis[1]"
    assert pieces[-1].citations == [1]


def test_transforms_and_router(cfg, embedder, fake_llm):
    assert paraphrases("1. What do cats eat?\n- Cat food?\n\nCat food?\nq", 2, "q") == [
        "What do cats eat?",
        "Cat food?",
    ]
    build_index(cfg, embedder)
    store = open_store(cfg, embedder)
    mq = MultiQuery(fake_llm("What food do cats like?\nFeline diet?"), embedder, n=3)
    retriever = make_retriever(cfg, store, embedder)
    retriever.transform = mq
    assert [q.text for q in mq("What do cats eat?")][1:] == [
        "What food do cats like?",
        "Feline diet?",
    ]
    assert "fish" in retriever.retrieve("What do cats eat?", 1).hits[0].chunk.text
    hyde_llm = fake_llm("The tower in Paris is 330 metres tall.")
    retriever.transform = HyDE(hyde_llm, embedder)
    assert "Eiffel" in retriever.retrieve("How tall is it?", 1).hits[0].chunk.text
    assert "How tall is it?" in hyde_llm.prompts[0]
    router = Router(
        [Route("pets", "cats, dogs and animals", 1), Route("travel", "cities", 2)], embedder
    )
    assert router.pick("what do parrots say").name == "pets"
    assert router.pick("monuments to visit in Rome").name == "travel"


def test_self_check_drops_unsupported_claims_and_reports_them(cfg, embedder, fake_llm):
    from lmforge.rag.selfcheck import SelfCheck
    from lmforge.rag.verify import ConsistencyVerifier, OverlapVerifier

    llm = fake_llm("Cats eat fish [1]. Cats eat 12 whales [1].")
    check = SelfCheck(ConsistencyVerifier(OverlapVerifier(0.9)), "drop")
    answer = pipeline(cfg, embedder, llm, self_check=check).ask("What do cats eat?")
    assert answer.text == "Cats eat fish [1]." and answer.citations == [1]
    report = answer.self_check
    verdicts = report["rounds"][0]["verdicts"]
    assert [v["supported"] for v in verdicts] == [True, False]
    assert verdicts[0]["chunk"] == 1 and "fish" in verdicts[0]["evidence"]
    assert report["dropped"] == ["Cats eat 12 whales."] and not report["refused"]
    refused = SelfCheck(OverlapVerifier(0.9), "refuse")
    answer = pipeline(cfg, embedder, llm, self_check=refused).ask("What do cats eat?")
    assert answer.text == NOT_IN_DOCS and answer.self_check["refused"]
