"""The server's routers, one concern each: ops (health, metrics) and the OpenAI API."""
