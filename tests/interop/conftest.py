"""Fixtures for the interop tests: third-party ONVIF clients against a camkey lab.

Third-party discovery clients probe every interface they see, and Python `WSDiscovery`
ignores loopback, so everything here runs inside a network namespace the fixture
creates (docs/design.md §4): a veth pair 10.77.0.1/10.77.0.2 with the multicast route
on v0, nothing connected to the machine's real interfaces. The lab runs inside with
`--bind 10.77.0.1`; clients run beside it with `ip netns exec` (`Lab.exec`,
`Lab.python`). One lab serves the whole session (the `lab` fixture); it and the
namespace are torn down at the end.

Needs root (or password-less sudo) for `ip netns`, and the `camkey` binary
(CAMKEY_BIN, default target/debug/camkey).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CAMKEY_BIN = os.environ.get("CAMKEY_BIN", str(REPO / "target" / "debug" / "camkey"))
LAB_ADDR = "10.77.0.1"
CLIENT_ADDR = "10.77.0.2"
LAB_CAMERAS = 2
START_TIMEOUT_S = 180.0


def _root(cmd: list[str]) -> list[str]:
    return cmd if os.geteuid() == 0 else ["sudo", "-n", *cmd]


def _run(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(_root(cmd), capture_output=True, text=True, timeout=timeout)


@dataclass
class Netns:
    """A network namespace with the veth pair of docs/design.md §4."""

    name: str

    def exec(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Runs a command inside the namespace."""
        return _run(["ip", "netns", "exec", self.name, *cmd], timeout=timeout)

    def popen(self, cmd: list[str], **kw) -> subprocess.Popen:
        return subprocess.Popen(_root(["ip", "netns", "exec", self.name, *cmd]), **kw)


def make_netns() -> Netns:
    name = f"camkey-t{os.getpid()}-{secrets.token_hex(3)}"
    out = _run(["ip", "netns", "add", name])
    if out.returncode != 0:
        pytest.fail(f"ip netns add {name}: {out.stderr.strip()} (needs root)", pytrace=False)
    ns = Netns(name)
    setup = (
        "ip link set lo up; ip link add v0 type veth peer name v1; "
        f"ip addr add {LAB_ADDR}/24 dev v0; ip addr add {CLIENT_ADDR}/24 dev v1; "
        "ip link set v0 up; ip link set v1 up; ip route add 224.0.0.0/4 dev v0"
    )
    out = ns.exec("sh", "-ec", setup)
    if out.returncode != 0:
        _run(["ip", "netns", "del", name])
        pytest.fail(f"setting up {name}: {out.stderr.strip()}", pytrace=False)
    return ns


@dataclass
class Lab:
    """A running `camkey lab` inside its namespace."""

    ns: Netns
    dir: Path
    proc: subprocess.Popen
    manifest: dict

    @property
    def cameras(self) -> list[dict]:
        return self.manifest["cameras"]

    def initialized_serials(self) -> set[str]:
        """The cameras the lab's NVR has initialized (those on its PoE ports)."""
        return {c["serial"] for c in self.cameras if c["poe_port"]}

    def exec(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Runs a command inside the lab's namespace."""
        return self.ns.exec(*cmd, timeout=timeout)

    def python(self, script: str, *args: str, timeout: float = 60):
        """Runs tests/interop/clients/SCRIPT inside the namespace; its stdout as JSON."""
        out = self.exec(sys.executable, str(HERE / "clients" / script), *args, timeout=timeout)
        assert out.returncode == 0, f"{script} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
        return json.loads(out.stdout)

    def camkey(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Runs the camkey binary inside the namespace."""
        return self.exec(CAMKEY_BIN, *args, timeout=timeout)

    def get_json(self, url: str):
        """GET a lab URL from inside the namespace (TLS unverified: the lab's own CA)."""
        return self.python("get_json.py", url)

    def log(self) -> str:
        try:
            return (self.dir / "lab.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _wait_running(lab: Lab, deadline: float) -> None:
    while time.monotonic() < deadline:
        states = [lab.get_json(c["hardware"] + "/")["state"] for c in lab.cameras]
        if all(s == "running" for s in states):
            return
        time.sleep(0.5)
    pytest.fail(f"lab cameras not running in time:\n{lab.log()}", pytrace=False)


def _wait_adopted(lab: Lab, deadline: float) -> None:
    """The lab's NVR initializes the cameras on its PoE ports: wait until it has, so that
    every camera's state is known to the tests."""
    while time.monotonic() < deadline:
        if all(lab.get_json(c["api"] + "/device")["initialized"] for c in lab.cameras if c["poe_port"]):
            return
        time.sleep(0.5)
    pytest.fail(f"the lab NVR did not adopt its cameras in time:\n{lab.log()}", pytrace=False)


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
def netns():
    """A fresh namespace (deleted at the end of the session)."""
    ns = make_netns()
    try:
        yield ns
    finally:
        _run(["ip", "netns", "del", ns.name])


@pytest.fixture(scope="session")
def lab(tmp_path_factory, camkey_bin, netns):
    """`camkey lab --bind 10.77.0.1 --time-scale 100 --cameras 2` inside `netns`, with
    every camera booted."""
    d = tmp_path_factory.mktemp("lab")
    log = open(d / "lab.log", "wb")
    proc = netns.popen(
        [
            camkey_bin, "lab", "--dir", str(d), "--bind", LAB_ADDR,
            "--time-scale", "100", "--cameras", str(LAB_CAMERAS),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    lab = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        manifest_path = d / "lab.json"
        while not manifest_path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    f"the lab did not write lab.json:\n{(d / 'lab.log').read_text(errors='replace')[-4000:]}",
                    pytrace=False,
                )
            time.sleep(0.2)
        time.sleep(0.2)
        lab = Lab(netns, d, proc, json.loads(manifest_path.read_text()))
        _wait_running(lab, deadline)
        _wait_adopted(lab, time.monotonic() + START_TIMEOUT_S)
        yield lab
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()
