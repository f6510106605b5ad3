"""The OpenAI-compatible server: FastAPI + uvicorn over `lmforge.engine.AsyncLLMEngine`.

Modules, one concept each: config (ServeConfig), protocol (request schemas -> SamplingParams),
errors (OpenAI's error JSON), auth, scanners (the guard hook), metrics (Prometheus), generate
(engine streams -> OpenAI responses/chunks), app (routes, admission, logs), server (uvicorn,
background loading, SIGTERM drain), loadgen (`lmforge bench serve`). See docs/serve.md.
"""
