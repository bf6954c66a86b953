"""report.html in a real headless Chromium with no network, driven over the DevTools protocol.

Skips (with the reason) only when Chromium is not installed; CI installs it in .ci/run.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from habitat.report.build import ReportOptions, build_report

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
XSS = "<script>alert(1)</script>"
# Flags for a closed network (machines/python.md); the proxy sends any stray http(s) request
# to a closed local port, so nothing can leave even if a flag is missed.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--proxy-server=http://127.0.0.1:9", "--remote-allow-origins=*", "--window-size=1280,1400",
         "--remote-debugging-port=0"]


class DevTools:
    """A minimal Chrome DevTools protocol client over one page's websocket."""

    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str, timeout_s: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event.get("method") == method:
                    return event
            seen = len(self.events)
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 20.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(expression)

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; CI installs it in .ci/run)")
    pytest.importorskip("websocket", reason="websocket-client is a test dependency: pip install -e '.[test]'")
    profile = tmp_path / "profile"
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
        targets = json.loads(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        yield tools
        tools.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_report_opens_offline_with_layers_popups_and_escaped_names(browser, tmp_path, make_report_data):
    files = build_report(make_report_data(name=XSS), ReportOptions(dpi=50, formats=("png",), per_unit_figures=False))
    report = tmp_path / "report.html"
    report.write_bytes(files["report.html"])
    url = report.as_uri()

    for domain in ("Network", "Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable")
    browser.call("Page.navigate", url=url)
    browser.wait_event("Page.loadEventFired")
    browser.wait_for("document.body.getAttribute('data-ready') === '1'")

    # the map shows its layers: one visible image overlay, every layer in the switcher, markers
    assert browser.evaluate("document.querySelectorAll('img.leaflet-image-layer').length") == 1
    labels = browser.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                              ".map(l => l.textContent.trim())")
    assert labels == ["Habitat classes (current)", "Habitat suitability (0-1)", "Habitat loss and gain",
                      "Reporting units", "Populations", "Candidate sites"]
    assert browser.evaluate("document.querySelectorAll('path.hab-sites').length") == 2
    assert browser.evaluate("document.querySelectorAll('path.hab-populations').length") == 1
    assert browser.evaluate("document.querySelectorAll('path.hab-reporting_units').length") == 2

    # clicking a site opens its popup with its attributes and explanation
    find_clickable = """(cls => { for (const p of document.querySelectorAll('path.' + cls)) {
        const r = p.getBoundingClientRect(); const x = r.x + r.width / 2, y = r.y + r.height / 2;
        if (document.elementFromPoint(x, y) === p) return [x, y]; } return null; })"""
    x, y = browser.evaluate(f"{find_clickable}('hab-sites')")
    browser.click(x, y)
    popup = browser.wait_for("document.querySelector('.leaflet-popup-content')?.textContent")
    assert popup.startswith("Candidate sites: ") and "Why it ranks here" in popup
    assert ("large tugai patch far from roads" in popup) or ("close to a canal" in popup)
    browser.call("Page.captureScreenshot")  # let the popup paint
    shot = browser.call("Page.captureScreenshot", format="png")
    (tmp_path / "report_site_popup.png").write_bytes(base64.b64decode(shot["data"]))

    # the population named <script>alert(1)</script> shows that name as text, and nothing runs
    x, y = browser.evaluate(f"{find_clickable}('hab-populations')")
    browser.click(x, y)
    title = browser.wait_for("(t => t && t.includes('Populations') && t)("
                             "document.querySelector('.leaflet-popup-content .popup-title')?.textContent)")
    assert title == f"Populations: {XSS}"
    assert browser.evaluate("document.querySelector('.leaflet-popup-content').querySelectorAll('script').length") == 0
    assert browser.evaluate("Array.from(document.querySelectorAll('td')).filter("
                            f"td => td.textContent === {json.dumps(XSS)}).length") >= 2  # table + methods
    shot = browser.call("Page.captureScreenshot", format="png")
    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    assert screenshot.stat().st_size > 10_000

    events = browser.events
    dialogs = [e for e in events if e.get("method") == "Page.javascriptDialogOpening"]
    assert not dialogs, "a script from user data ran"
    errors = [e for e in events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert not errors, f"console errors: {errors}"
    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    assert url in requests
    outside = [u for u in requests if u != url and not u.startswith("data:")]
    assert not outside, f"requests outside the file: {outside}"
