"""WS-Discovery interop: third-party clients find every lab camera (inside the
namespace of conftest.py)."""

from conftest import LAB_ADDR

STREAMING = "onvif://www.onvif.org/Profile/Streaming"


def serial_of(service: dict) -> str:
    prefix = "onvif://camkey/serial/"
    return next(s[len(prefix):] for s in service["scopes"] if s.startswith(prefix))


def serials(lab) -> set[str]:
    return {c["serial"] for c in lab.cameras}


def test_wsdiscovery_finds_every_camera(lab):
    found = lab.python("wsd_probe.py", "--timeout", "3")
    assert {serial_of(s) for s in found} == serials(lab)
    for s in found:
        assert s["epr"].startswith("urn:uuid:")
        assert [x.split(":")[0] for x in s["xaddrs"]] == ["http", "https"]
        assert all(f"//{LAB_ADDR}:" in x and x.endswith("/onvif/device_service") for x in s["xaddrs"])
        assert STREAMING in s["scopes"]
        # The camera on the lab NVR's port was initialized by the NVR; the others wait.
        state = "initialized" if serial_of(s) in lab.initialized_serials() else "uninitialized"
        assert f"onvif://camkey/state/{state}" in s["scopes"]


def test_wsdiscovery_with_the_home_assistant_scope_filter(lab):
    found = lab.python("wsd_probe.py", "--scope", STREAMING, "--timeout", "3")
    assert {serial_of(s) for s in found} == serials(lab)
    none = lab.python("wsd_probe.py", "--scope", "onvif://www.onvif.org/Profile/G", "--timeout", "2")
    assert none == []


def test_camkey_discover_in_the_namespace(lab):
    out = lab.camkey("--json", "discover", "--interface", LAB_ADDR, "--timeout", "1500")
    assert out.returncode == 0, out.stderr
    import json

    found = json.loads(out.stdout)
    assert {f["serial"] for f in found} == serials(lab)
    assert all(f["address"] == LAB_ADDR for f in found)
    assert {f["serial"] for f in found if f["state"] == "initialized"} == lab.initialized_serials()
    # --bind names the interface too, as for the lab.
    out = lab.camkey(
        "--json", "discover", "--bind", LAB_ADDR, "--timeout", "500",
        "--scope", "onvif://camkey/state/uninitialized",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert {f["serial"] for f in json.loads(out.stdout)} == serials(lab) - lab.initialized_serials()
