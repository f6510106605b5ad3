"""`lmforge adapters`: list, load and unload LoRA adapters of a running `lmforge serve`."""

from typing import Any

import typer

from lmforge.commands.common import console
from lmforge.errors import LMForgeError

app = typer.Typer(help="LoRA adapters of a running server: list, load, unload (no restart).")
URL = typer.Option("http://127.0.0.1:8000", help="Server base URL.")
KEY = typer.Option(None, help="Bearer key, if the server wants one.")


def _call(method: str, url: str, path: str, key: str | None, body: Any = None) -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        r = httpx.request(method, url.rstrip("/") + path, json=body, headers=headers, timeout=60)
    except httpx.TransportError as e:
        raise LMForgeError(f"cannot reach {url} ({e}); is `lmforge serve` running?") from None
    if r.status_code != 200:
        try:
            msg = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            msg = r.text[:200]
        raise LMForgeError(f"{method} {path}: {r.status_code} {msg}")
    return r.json()


@app.command("list")
def list_adapters(url: str = URL, api_key: str | None = KEY) -> None:
    """Adapters the server knows (and whether each is in memory now)."""
    for a in _call("GET", url, "/v1/adapters", api_key)["data"]:
        state = f"rank {a['rank']}" if a["loaded"] else "on disk (LRU-evicted)"
        console.print(f"{a['name']}: {a['path']} ({state})")


@app.command("load")
def load(
    name: str = typer.Argument(..., help="Name requests will use (model 'base:name')."),
    path: str = typer.Argument(..., help="PEFT LoRA directory on the server's disk."),
    url: str = URL,
    api_key: str | None = KEY,
) -> None:
    """Load (or reload) an adapter into the running server."""
    d = _call("POST", url, "/v1/adapters", api_key, {"name": name, "path": path})
    console.print(f"loaded {d['model']} (rank {d['rank']}, {', '.join(d['targets'])}) "
                  f"in {d['load_s']} s")  # fmt: skip


@app.command("unload")
def unload(name: str = typer.Argument(...), url: str = URL, api_key: str | None = KEY) -> None:
    """Forget an adapter (requests running with it finish first)."""
    _call("DELETE", url, f"/v1/adapters/{name}", api_key)
    console.print(f"unloaded {name}")
