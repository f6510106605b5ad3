"""`http_get`: fetch a URL whose host is on the allowlist.

Redirects are followed by hand, each hop's host checked against the same list (an allowed host
cannot bounce the agent elsewhere), and the body is read in pieces up to a byte cap, so a huge
or endless response costs at most the cap.
"""

from urllib.parse import urljoin, urlsplit

from lmforge.agent.tools.base import Tool, ToolError
from lmforge.extras import require


def check_url(url: str, hosts: list[str] | set[str]) -> None:
    u = urlsplit(url)
    if u.scheme not in ("http", "https"):
        raise ToolError(f"url {url!r}: only http and https")
    if (u.hostname or "") not in hosts or u.username or u.password:
        raise ToolError(f"host {u.hostname!r} is not on the allowlist ({sorted(hosts)})")


def http_get_tool(hosts: list[str], max_bytes: int = 256_000, timeout_s: float = 15.0) -> Tool:
    httpx = require("serve", "httpx")

    def http_get(url: str) -> str:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            for _ in range(5):
                check_url(url, hosts)
                with client.stream("GET", url) as r:
                    if r.is_redirect and "location" in r.headers:
                        url = urljoin(url, r.headers["location"])
                        continue
                    body = bytearray()
                    for piece in r.iter_bytes():
                        body += piece
                        if len(body) > max_bytes:
                            break
                    text = bytes(body[:max_bytes]).decode(r.encoding or "utf-8", "replace")
                    cut = "\n[cut: body is longer]" if len(body) > max_bytes else ""
                    return f"HTTP {r.status_code}\n{text}{cut}"
        raise ToolError("too many redirects")

    schema = {
        "type": "object",
        "properties": {"url": {"type": "string", "description": "http(s) URL on the allowlist."}},
        "required": ["url"],
    }
    desc = f"GET a web page. Allowed hosts: {', '.join(sorted(hosts)) or 'none'}."
    # a GET carries data out in its URL: every call is an effect, its URL needs provenance
    return Tool(
        "http_get",
        desc,
        schema,
        http_get,
        url_args=("url",),
        sensitive_args=("url",),
        effect=lambda a: True,
    )
