"""A small client for headless Chromium over the DevTools protocol.

Enough to load a page, collect its JavaScript errors, evaluate expressions
and take screenshots: no Playwright or pyppeteer (their browser downloads
cannot work offline), just Debian's ``chromium`` and a websocket.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = (
    "no Chromium found: install it with `apt-get update && apt-get install -y chromium` "
    "(Debian/Ubuntu), or set SPEECHLM_CHROMIUM to a Chrome or Chromium executable"
)


def find_chromium() -> str | None:
    """The path of a Chromium or Chrome executable, or None."""
    candidates = [os.environ.get("SPEECHLM_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    for name in filter(None, candidates):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium and one page (tab) driven through the DevTools protocol."""

    def __init__(self, executable: str | None = None, *, width: int = 1280, height: int = 900):
        import websocket

        executable = executable or find_chromium()
        if executable is None:
            raise FileNotFoundError(INSTALL_HINT)
        self._profile = tempfile.mkdtemp(prefix="speechlm-chromium-")
        self._process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",  # running as root in CI
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--mute-audio",
                "--autoplay-policy=no-user-gesture-required",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{executable} did not start its DevTools endpoint within 30 s")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self._ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=60, suppress_origin=True
        )
        self._next_id = 0
        self.events: list[dict] = []
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(domain)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        while True:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def send(self, method: str, params: dict | None = None) -> dict:
        """A DevTools command to the page; its result."""
        return self._send(method, params, self._session)

    def _wait_event(self, method: str, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        seen = len(self.events)
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            self._ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                self.events.append(json.loads(self._ws.recv()))
            except Exception:  # a timeout: look again until the deadline
                pass
            finally:
                self._ws.settimeout(60)
        raise TimeoutError(f"no {method} within {timeout_s} s")

    def goto(self, url: str, *, timeout_s: float = 60) -> None:
        """Load ``url`` and wait for its load event (events from earlier pages are dropped)."""
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self._wait_event("Page.loadEventFired", timeout_s)

    def evaluate(self, expression: str, *, timeout_s: float = 60):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {
                "expression": expression,
                "awaitPromise": True,
                "returnByValue": True,
                "timeout": timeout_s * 1000,
            },
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """JavaScript errors since the last :meth:`goto`: uncaught exceptions, ``console.error``
        calls and errors the browser logged from scripts."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif event["method"] == "Log.entryAdded":
                entry = params["entry"]
                if entry["level"] == "error" and entry.get("source") == "javascript":
                    found.append(entry["text"])
        return found

    def failed_requests(self) -> list[str]:
        """Log messages of resources that failed to load (a missing file, a refused host)."""
        return [
            e["params"]["entry"].get("url") or e["params"]["entry"]["text"]
            for e in self.events
            if e["method"] == "Log.entryAdded"
            and e["params"]["entry"]["level"] == "error"
            and e["params"]["entry"].get("source") == "network"
        ]

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Save the visible part of the page (or all of it) as PNG."""
        params: dict = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            width, height = self.evaluate("[document.body.scrollWidth, document.body.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": min(height, 16000), "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        if getattr(self, "_ws", None) is not None:
            try:
                self._ws.close()
            except Exception:  # already gone
                pass
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
