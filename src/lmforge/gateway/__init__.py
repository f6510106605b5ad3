"""lmforge gateway: one OpenAI-compatible endpoint in front of local engines and paid APIs.

Layers: config -> backends (asgi for in-process engines) -> reliability/upstream (retries,
breaker, fallback) -> routing/cascade (+ router_model) -> cache, accounting, usage -> service
(the request flow) -> app/server. The gateway sits above `lmforge.serve` and imports it; serve
never imports the gateway. See docs/gateway.md.
"""
