"""Web console: shipped size, and first contentful paint of /console in headless Chromium.

    python bench/console.py --loads 10

Serves the console (`lmforge console`'s app, no model needed) over a runs dir, opens /console
in fresh pages of the system Chromium through Playwright and reads the browser's own
`first-contentful-paint` entry. Prints the size of the shipped files, FCP median / p90 / max,
and the load average (the machine is shared: report it with the figure).
"""

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from lmforge.serve.console_app import create_console_app
from lmforge.serve.routes.console import STATIC
from lmforge.serve.server import bind


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loads", type=int, default=10)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    size = sum(p.stat().st_size for p in STATIC.iterdir())
    root = Path(tempfile.mkdtemp()) / "runs"
    root.mkdir()
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_console_app(root), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/console"
    while True:
        try:
            httpx.get(url, timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    fcp = []
    with sync_playwright() as p:
        import shutil

        b = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        for _ in range(args.loads):
            page = b.new_page()
            page.goto(url)
            page.wait_for_load_state("load")
            fcp.append(
                page.evaluate(
                    "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
                )
            )
            page.close()
        b.close()
    server.should_exit = True
    load1 = Path("/proc/loadavg").read_text().split()[:3]
    fcp.sort()
    print(f"console files: {size / 1024:.1f} KiB in {len(list(STATIC.iterdir()))} files")
    print(
        f"first contentful paint over {len(fcp)} loads: median {statistics.median(fcp):.0f} ms, "
        f"p90 {fcp[int(0.9 * (len(fcp) - 1))]:.0f} ms, max {fcp[-1]:.0f} ms"
    )
    print(f"loadavg before {' '.join(load0)}, after {' '.join(load1)} (2 cores)")


if __name__ == "__main__":
    main()
