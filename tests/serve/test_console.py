"""The web console, in a real headless Chromium: playground streaming, side-by-side models with
tool calls and JSON-schema mode, the runs pages, live metrics; plus its JSON API."""

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from tests.browser import artifacts_dir, chromium, require_browser
from tests.serve.conftest import start_server, tiny_cfg

from lmforge.runs import start_run
from lmforge.serve.console_app import create_console_app
from lmforge.serve.server import bind

KEY = "sk-test-key"


def make_runs(root: Path) -> dict[str, str]:
    """A small lineage: data -> sft -> eval, and a compare of two evals, with real manifests."""
    ids = {}
    with start_run("data", {"steps": ["langid"]}, root) as run:
        rej = run.dir / "output" / "rejected"
        rej.mkdir(parents=True)
        rows = [
            {
                "id": "d1",
                "step": "langid",
                "reason": "langid_language",
                "source": "x",
                "text": "Это русский текст",
            },
            {
                "id": "d2",
                "step": "gopher",
                "reason": "gopher_stop_words",
                "source": "x",
                "text": "asdf jkl qwerty",
            },
        ]
        (rej / "s0-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        train = run.dir / "output" / "train.jsonl"
        train.write_text('{"text": "hello"}\n')
        steps = {
            "read": {"in": 10, "kept": 10, "dropped": {}},
            "langid": {"in": 10, "kept": 9, "dropped": {"langid_language": 1}},
            "gopher": {"in": 9, "kept": 8, "dropped": {"gopher_stop_words": 1}},
        }
        run.log_metrics(steps=steps, documents_in=10, documents_out=8)
        run.add_output(train, role="train")
        run.add_output(rej, role="rejected")
        ids["data"] = run.id
    with start_run("train-sft", {}, root) as run:
        run.add_input(train, role="dataset")
        adapter = run.dir / "adapter.bin"
        adapter.write_bytes(b"w")
        run.add_output(adapter, role="adapter")
        hist = [{"step": s, "loss": 2.0 / s, "eval_loss": 2.2 / s} for s in range(1, 9)]
        run.log_metrics(history=hist, train_loss=0.4)
        ids["sft"] = run.id
    with start_run("eval-compare", {}, root) as run:
        run.add_input(adapter, role="model")
        row = {
            "task": "text_source",
            "metric": "exact_match",
            "a": 0.25,
            "b": 0.8,
            "delta": 0.55,
            "low": 0.45,
            "high": 0.65,
            "p_value": 0.0,
            "n": 64,
        }
        run.log_metrics(comparison=[row], sentence="The tuned model labels 55 points more pages.")
        ids["compare"] = run.id
    return ids


class Fake:
    """An OpenAI-compatible stand-in with two models: it streams a tool call when the request
    has `tools`, JSON when it has `response_format`, and remembers every request body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.app = FastAPI()

        @self.app.get("/v1/models")
        async def models() -> dict:
            data = [
                {"id": "small", "object": "model", "pricing": {"prompt": 1.0, "completion": 2.0}},
                {"id": "large", "object": "model"},
            ]
            return {"object": "list", "data": data}

        @self.app.get("/metrics")
        async def metrics() -> PlainTextResponse:
            return PlainTextResponse(
                "# TYPE lmforge:generation_tokens counter\n"
                f'lmforge:generation_tokens{{model_name="small"}} {time.time() % 1000:.1f}\n'
            )

        @self.app.post("/v1/chat/completions")
        async def chat(request: Request) -> StreamingResponse:
            body = await request.json()
            self.bodies.append(body)

            def chunk(delta: dict) -> str:
                return "data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}) + "\n\n"

            async def events() -> Iterator[str]:
                if body.get("tools"):
                    yield chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": "get_weather", "arguments": ""},
                                }
                            ]
                        }
                    )
                    for piece in ('{"city": ', '"Paris"}'):
                        yield chunk(
                            {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                        )
                else:
                    text = (
                        '{"answer": "four"}'
                        if body.get("response_format")
                        else f"hi from {body['model']}"
                    )
                    for word in text.split(" "):
                        yield chunk({"content": word + " "})
                usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
                yield "data: " + json.dumps({"choices": [], "usage": usage}) + "\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")


def serve_app(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for _ in range(200):
        try:
            httpx.get(
                url + "/console/api/runs" if "console" in str(app.title) else url + "/v1/models",
                timeout=2,
            )
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return url, server, thread


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    pg.close()
    assert errors == [], errors


def first_paint_ms(pg) -> float:
    """First contentful paint; the entry appears a moment after load, so wait for it (bounded)."""
    pg.wait_for_function(
        "performance.getEntriesByName('first-contentful-paint').length > 0", timeout=10_000
    )
    return pg.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1")


@pytest.fixture(scope="module")
def served(tiny_llama_dir, tmp_path_factory):
    """`lmforge serve` over the tiny model, with the console on a runs dir that has runs."""
    root = tmp_path_factory.mktemp("console-runs")
    ids = make_runs(root)
    r = start_server(tiny_cfg(tiny_llama_dir, api_key=[KEY], runs_dir=root))
    yield r, ids
    r.stop()


def test_playground_streams_an_answer_from_the_server(served, page):
    r, _ = served
    page.add_init_script(f"localStorage.setItem('lmforge-key', '{KEY}')")
    page.goto(r.url + "/console")
    paint = first_paint_ms(page)
    page.wait_for_function("document.querySelector('#model-a').options.length > 0")
    assert page.input_value("#model-a") == "tiny"
    page.fill("#max-tokens", "12")
    page.fill("#temperature", "0")
    page.fill("#prompt", "Say hello")
    page.press("#prompt", "Enter")
    page.wait_for_function("document.querySelector('.stats').textContent.includes('tokens/s')")
    answer = page.inner_text(".msg.assistant")
    stats = page.inner_text(".stats")
    page.screenshot(path=str(artifacts_dir("console") / "playground.png"), full_page=True)
    assert answer, "no streamed answer"  # a random tiny model may well answer in newlines
    assert "TTFT" in stats and "12 tokens" in stats, stats
    # Recorded, not asserted: a time depends on the machine's load (docs/benchmarks.md).
    assert paint > 0, "the page never painted"
    timing = {
        "first_contentful_paint_ms": round(paint, 1),
        "loadavg": Path("/proc/loadavg").read_text(),
    }
    (artifacts_dir("console") / "timing.json").write_text(json.dumps(timing))


def test_runs_table_detail_lineage_and_rejected_samples(served, page):
    r, ids = served
    page.add_init_script(f"localStorage.setItem('lmforge-key', '{KEY}')")
    page.goto(r.url + "/console#runs")
    page.wait_for_selector(f"tr[data-run='{ids['sft']}']")
    assert page.locator("#runs-table tbody tr").count() == 3
    page.click(f"tr[data-run='{ids['sft']}']")
    page.wait_for_selector("#run-detail svg .node")
    # the sft run's lineage: the data run that produced its dataset, the compare run after it
    nodes = page.eval_on_selector_all("#run-detail .node", "els => els.map(e => e.dataset.run)")
    assert set(nodes) == {ids["data"], ids["sft"], ids["compare"]}
    assert page.locator("#run-detail polyline").count() == 2  # loss and eval_loss
    page.click(f"#run-detail .node[data-run='{ids['data']}']")
    page.wait_for_selector("a[data-reason='langid_language']")
    page.click("a[data-reason='langid_language']")
    page.wait_for_selector("#rejected .sample")
    assert "Это русский текст" in page.inner_text("#rejected")
    page.screenshot(path=str(artifacts_dir("console") / "run-data.png"), full_page=True)
    page.click("#runs-refresh")
    page.click(f"tr[data-run='{ids['compare']}']")
    page.wait_for_selector("text=55 points more")
    page.screenshot(path=str(artifacts_dir("console") / "run-compare.png"), full_page=True)


def test_metrics_tab_charts_the_servers_prometheus_text(served, page):
    r, _ = served
    page.add_init_script(f"localStorage.setItem('lmforge-key', '{KEY}')")
    page.goto(r.url + "/console#metrics")
    page.wait_for_selector("[data-metric='lmforge:generation_tokens_total']")
    # a counter is charted as a rate once two scrapes (2 s apart) are in; histograms as means
    titles = "[...document.querySelectorAll('#metric-charts svg text')].map(t => t.textContent)"
    page.wait_for_function(f"{titles}.includes('lmforge:generation_tokens_total')", timeout=15000)
    page.wait_for_function(
        f"{titles}.includes('lmforge:time_to_first_token_seconds (mean per interval)')"
    )
    cards = page.eval_on_selector_all(
        "#metric-cards .card", "els => els.map(e => e.dataset.metric)"
    )
    assert "lmforge:time_to_first_token_seconds_sum" not in cards
    assert "lmforge:time_to_first_token_seconds" in cards
    page.screenshot(path=str(artifacts_dir("console") / "metrics.png"), full_page=True)


def test_console_command_proxies_two_models_tools_and_json_schema(tmp_path, page):
    fake = Fake()
    up, up_server, up_thread = serve_app(fake.app)
    root = tmp_path / "runs"
    root.mkdir()
    url, server, thread = serve_app(create_console_app(root, up))
    try:
        page.goto(url + "/console")
        page.wait_for_function("document.querySelector('#model-b').options.length == 2")
        page.check("#compare")
        assert page.input_value("#price-in") == "1"  # the upstream's listed price
        page.fill("#prompt", "hello")
        page.press("#prompt", "Enter")
        page.wait_for_function(
            "[...document.querySelectorAll('.stats')].every(s => s.textContent.includes('cost'))"
        )
        texts = page.eval_on_selector_all(".msg.assistant", "els => els.map(e => e.textContent)")
        assert texts == ["hi from small ", "hi from large "]
        assert "cost $0.000013" in page.inner_text(".panel[data-slot='0'] .stats")  # 7*1 + 3*2
        page.click("#advanced summary")
        page.check("#tools-on")
        page.fill("#prompt", "weather in Paris?")
        page.press("#prompt", "Enter")
        page.wait_for_selector(".panel[data-slot='1'] .tool")
        page.wait_for_function("!document.querySelector('#send').disabled")
        assert (
            page.inner_text(".panel[data-slot='0'] .tool")
            == 'tool call get_weather({"city": "Paris"})'
        )
        page.uncheck("#tools-on")
        page.check("#json-mode")
        page.fill("#prompt", "2+2?")
        page.press("#prompt", "Enter")
        page.wait_for_function("!document.querySelector('#send').disabled")
        page.screenshot(path=str(artifacts_dir("console") / "side-by-side.png"), full_page=True)
        assert [b["model"] for b in fake.bodies] == ["small", "large"] * 3
        assert fake.bodies[2]["tools"][0]["function"]["name"] == "get_weather"
        last = fake.bodies[-1]
        assert last["response_format"]["type"] == "json_schema"
        assert last["response_format"]["json_schema"]["schema"]["required"] == ["answer"]
        assert last["stream"] is True and last["temperature"] == 0.7
        # the second turn carried the first turn's history, tool calls included
        assert [m["role"] for m in last["messages"]] == ["user", "assistant"] * 2 + ["user"]
        assert last["messages"][3]["tool_calls"][0]["function"]["name"] == "get_weather"
        assert httpx.get(url + "/metrics").text.startswith("# TYPE lmforge:generation_tokens")
    finally:
        server.should_exit = up_server.should_exit = True
        thread.join(10)
        up_thread.join(10)


def test_run_api_wants_the_key_and_rejects_bad_ids(served):
    r, ids = served
    assert httpx.get(r.url + "/console/api/runs").status_code == 401
    auth = {"Authorization": f"Bearer {KEY}"}
    body = httpx.get(r.url + "/console/api/runs", headers=auth).json()
    assert [x["id"] for x in body["runs"]] == [ids["compare"], ids["sft"], ids["data"]]
    assert body["runs"][0]["headline"] == {"Δ text_source/exact_match": 0.55}
    for bad in ("..", "nope", "%2e%2e%2fetc"):
        assert httpx.get(f"{r.url}/console/api/runs/{bad}", headers=auth).status_code == 404
    rej = httpx.get(f"{r.url}/console/api/runs/{ids['data']}/rejected", headers=auth).json()
    assert rej["counts"] == {"langid: langid_language": 1, "gopher: gopher_stop_words": 1}
    assert httpx.get(r.url + "/console").headers["content-type"].startswith("text/html")
    assert httpx.get(r.url + "/console/static/../app.py").status_code == 404


def test_console_files_stay_small():
    from lmforge.serve.routes.console import STATIC

    total = sum(p.stat().st_size for p in STATIC.iterdir())
    assert total < 2_000_000, total


def test_console_without_upstream_says_so(tmp_path):
    from fastapi.testclient import TestClient

    root = tmp_path / "runs"
    root.mkdir()
    with TestClient(create_console_app(root)) as c:
        r = c.get("/v1/models")
        assert r.status_code == 502 and "--upstream" in r.json()["error"]["message"]
        assert c.get("/console/api/runs").json()["runs"] == []
        assert c.get("/", follow_redirects=False).headers["location"] == "/console"
