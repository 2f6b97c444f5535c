"""ONVIF interop: onvif-zeep-async (the library Home Assistant uses) manages a lab camera
inside the namespace of conftest.py, over plain HTTP as Home Assistant does and over
HTTPS where a password travels; wrong and replayed credentials are refused.

Runs after test_discovery.py (file order), which expects every lab camera still
uninitialized: this file initializes the first one."""

import json
from urllib.parse import urlsplit

import pytest

from conftest import LAB_ADDR

PASSWORD = "Quiet-Harbor-Lantern-4821"
VIEWER_PASSWORD = "Copper-Meadow-Violin-7305"
VIEWER_NEW_PASSWORD = "Silent-Orchard-Beacon-6192"


@pytest.fixture(scope="module")
def cam(lab):
    """The lab's first camera, initialized with ONVIF access on."""
    c = lab.cameras[0]
    body = {"password": PASSWORD, "setup_code": c["setup_code"], "onvif": True}
    out = lab.python("post_json.py", c["api"] + "/init", json.dumps(body))
    assert out["status"] == 200, out
    return c


def plain_url(c) -> str:
    """The device service on the camera's plain HTTP port (Home Assistant's way)."""
    return c["http"].rstrip("/") + urlsplit(c["onvif"]).path


def steps(lab, step, url, user, password, *args):
    return lab.python("onvif_steps.py", step, url, user, password, *args, timeout=90)


def test_lab_json_names_the_https_device_service(lab):
    for c in lab.cameras:
        assert c["onvif"] == c["url"] + "onvif/device_service"
        assert c["onvif"].startswith(f"https://{LAB_ADDR}:")


def test_zeep_reads_time_device_interfaces_users_profiles_and_snapshot(lab, cam):
    device = lab.get_json(cam["api"] + "/device")
    for url in (plain_url(cam), cam["onvif"]):
        got = steps(lab, "read", url, "admin", PASSWORD)
        assert got["time"]["year"] >= 2026, got
        assert got["device"]["serial"] == cam["serial"]
        assert got["device"]["model"] == cam["model"]
        assert got["mac"].lower() == device["mac"].lower()
        assert ["admin", "Administrator"] in got["users"]
        assert got["profile"]["encoding"] == "H264"
        assert got["stream"].startswith(f"rtsp://{LAB_ADDR}")
        assert got["snapshot"]["jpeg"] and got["snapshot"]["bytes"] > 1000, got
        scheme = urlsplit(url).scheme
        assert all(x.startswith(f"{scheme}://{LAB_ADDR}:") for x in got["xaddrs"]), got


def test_zeep_creates_a_user_over_https_only_and_changes_its_password(lab, cam):
    # A password in clear over plain HTTP: refused, with a fault that says HTTPS.
    out = steps(lab, "create", plain_url(cam), "admin", PASSWORD, "viewer", VIEWER_PASSWORD, "User")
    assert "HTTPS" in out.get("fault", ""), out

    out = steps(lab, "create", cam["onvif"], "admin", PASSWORD, "viewer", VIEWER_PASSWORD, "User")
    assert out == {"ok": True}
    users = steps(lab, "read", cam["onvif"], "admin", PASSWORD)["users"]
    assert ["viewer", "User"] in users

    # The new account signs in over plain HTTP (a digest), and may not manage users.
    who = steps(lab, "whoami", plain_url(cam), "viewer", VIEWER_PASSWORD)
    assert who["device"] == "ok", who
    assert who["users"] != "ok" and who["users"].get("auth_error"), who

    out = steps(lab, "set", cam["onvif"], "admin", PASSWORD, "viewer", VIEWER_NEW_PASSWORD, "User")
    assert out == {"ok": True}
    assert steps(lab, "whoami", plain_url(cam), "viewer", VIEWER_NEW_PASSWORD)["device"] == "ok"
    old = steps(lab, "whoami", plain_url(cam), "viewer", VIEWER_PASSWORD)
    assert old["device"] != "ok" and old["device"].get("auth_error"), old


def test_wrong_password_is_an_auth_error(lab, cam):
    who = steps(lab, "whoami", plain_url(cam), "admin", "Not-The-Password-0000")
    assert who["device"] != "ok" and who["device"].get("auth_error"), who


def test_a_replayed_username_token_is_refused(lab, cam):
    out = lab.python("onvif_raw.py", plain_url(cam), "admin", PASSWORD, "2")
    (first_status, first), (second_status, second) = out
    assert first_status == 200 and "GetDeviceInformationResponse" in first, out
    assert second_status != 200 and "NotAuthorized" in second, out
    assert "GetDeviceInformationResponse" not in second


def test_the_uninitialized_camera_answers_only_the_calls_without_credentials(lab):
    other = lab.cameras[1]
    got = steps(lab, "whoami", other["http"].rstrip("/") + "/onvif/device_service", "admin", PASSWORD)
    assert got["device"] != "ok" and got["users"] != "ok", got
