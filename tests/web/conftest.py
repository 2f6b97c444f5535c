"""Fixtures for the camera's real-browser tests.

Every test gets a fresh camera: its own factory and data directories and its own pair of
loopback ports, started from the `camkey` binary and stopped with SIGTERM afterwards.
The browser is Debian's Chromium, driven by Playwright (which cannot download a browser
of its own here). Only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CAMKEY_BIN = os.environ.get("CAMKEY_BIN", str(REPO / "target" / "debug" / "camkey"))
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST = "127.0.0.1"
START_TIMEOUT_S = 20.0

# The camera's certificate is signed by a vendor CA that this machine does not trust.
_UNVERIFIED = ssl.create_default_context()
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def run_camkey(*args: str) -> str:
    out = subprocess.run(
        [CAMKEY_BIN, *args], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(
            f"camkey {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
        )
    return out.stdout


@dataclass
class Camera:
    """One running camera."""

    model: str
    serial: str
    setup_code: str | None
    base_url: str
    proc: subprocess.Popen
    log_path: Path
    provision: dict = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(self.url(path), context=_UNVERIFIED, timeout=10) as r:
            return json.loads(r.read())

    def device(self) -> dict:
        return self.get_json("/api/device")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="session")
def camkey_bin() -> str:
    if not (os.path.isfile(CAMKEY_BIN) and os.access(CAMKEY_BIN, os.X_OK)):
        pytest.fail(
            f"camkey binary not found at {CAMKEY_BIN}: run `cargo build -p camkey` "
            "or set CAMKEY_BIN",
            pytrace=False,
        )
    return CAMKEY_BIN


@pytest.fixture(scope="session")
def vendor_dir(tmp_path_factory, camkey_bin) -> Path:
    d = tmp_path_factory.mktemp("vendor") / "keys"
    run_camkey("keygen", "--dir", str(d))
    assert (d / "master.key").is_file(), "keygen wrote no master.key"
    return d


@pytest.fixture
def start_camera(tmp_path, vendor_dir):
    """Returns a function that provisions and starts a camera of the given model."""
    cams: list[Camera] = []

    def start(model: str = "IPC4K15", serial: str | None = None) -> Camera:
        n = len(cams)
        serial = serial or f"{model}-W{n + 1:04d}"
        factory = tmp_path / f"factory{n}"
        data = tmp_path / f"data{n}"
        info = json.loads(
            run_camkey(
                "--json",
                "provision",
                "--master-key",
                str(vendor_dir / "master.key"),
                "--model",
                model,
                "--serial",
                serial,
                "--dir",
                str(factory),
                "--name",
                HOST,
            )
        )
        https_port, http_port = free_port(), free_port()
        log_path = tmp_path / f"camera{n}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [
                CAMKEY_BIN,
                "camera",
                "--factory",
                str(factory),
                "--data",
                str(data),
                "--https",
                f"{HOST}:{https_port}",
                "--http",
                f"{HOST}:{http_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        cam = Camera(
            model=model,
            serial=info.get("serial", serial),
            setup_code=info.get("setup_code"),
            base_url=f"https://{HOST}:{https_port}",
            proc=proc,
            log_path=log_path,
            provision=info,
        )
        cams.append(cam)
        deadline = time.monotonic() + START_TIMEOUT_S
        last_err: Exception | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"camera exited with {proc.returncode}:\n{cam.log()}")
            try:
                with urllib.request.urlopen(
                    cam.url("/api/device"), context=_UNVERIFIED, timeout=2
                ) as r:
                    if r.status == 200:
                        return cam
            except (urllib.error.URLError, OSError) as e:
                last_err = e
            time.sleep(0.1)
        pytest.fail(f"camera did not answer within {START_TIMEOUT_S}s ({last_err}):\n{cam.log()}")

    yield start
    for cam in cams:
        cam.stop()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.isfile(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(ignore_https_errors=True)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def other_origin():
    """A tiny web server on another origin (plain HTTP, its own port) serving given pages.

    Returns a function `serve(path, html) -> url`."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (stdlib name)
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]

    def serve(path: str, html: str) -> str:
        pages[path] = html.encode()
        return f"http://{HOST}:{port}{path}"

    yield serve
    server.shutdown()
    server.server_close()
