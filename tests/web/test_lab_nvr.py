"""The lab's NVR in a real browser, as its owner uses it.

From the lab's home page to the NVR's page: a wrong password says what is wrong, the right
one shows the channel table with the camera the NVR adopted on PoE port 1 (its snapshot
shown), the camera's password is revealed after the admin's password is asked again and
signs into the camera, all of them are exported as a file, and a setup code is saved
for a port. This module runs its own lab
(the `lab` fixture of test_lab_reset.py, module-scoped).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from playwright.sync_api import Page, expect

from conftest import _UNVERIFIED
from test_lab_reset import Lab, lab  # noqa: F401 (the fixture)

ADOPT_WAIT_MS = 60_000


def nvr_camera(lab: Lab) -> dict:
    return next(c for c in lab.manifest["cameras"] if c["poe_port"] == 1)


def camera_login(cam: dict, username: str, password: str) -> int:
    req = urllib.request.Request(
        cam["api"] + "/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, context=_UNVERIFIED, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def sign_in(page: Page, lab: Lab, password: str) -> None:
    page.locator("#login-form input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_nvr_page_shows_the_adopted_camera_and_reveals_its_password(page: Page, lab: Lab):
    nvr = lab.manifest["nvr"]
    admin = nvr["admin"]
    cam = nvr_camera(lab)
    page.goto(lab.manifest["url"])
    page.locator("#nvr").get_by_role("link").click()
    expect(page.locator("header")).to_contain_text(f"{nvr['ports']} PoE ports")

    sign_in(page, lab, "not-the-admins-password")
    expect(page.locator("#message")).to_have_text("The user name or password is wrong.")
    expect(page.locator("#channels")).to_be_hidden()

    sign_in(page, lab, admin["password"])
    expect(page.locator("#channels")).to_be_visible()
    row = page.locator("#rows tr").filter(has_text=cam["serial"])
    # The page refreshes its table every 10 s; the NVR adopts within a few seconds of boot.
    expect(row).to_contain_text("Recording", timeout=ADOPT_WAIT_MS)
    snap = row.locator("img.snap")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=snap.element_handle(), timeout=20_000
    )

    # Revealing asks for the admin's own password again.
    page.once("dialog", lambda d: d.accept(admin["password"]))
    row.get_by_role("button", name="Reveal password").click()
    expect(page.locator("#message")).to_contain_text("Port 1: user admin, password ")
    revealed = page.locator("#message").inner_text().rsplit("password ", 1)[1].strip()
    assert len(revealed) == 32
    assert camera_login(cam, "admin", revealed) == 200

    page.once("dialog", lambda d: d.accept("a wrong guess"))
    row.get_by_role("button", name="Reveal password").click()
    expect(page.locator("#message")).to_have_text("The user name or password is wrong.")

    # Export: every camera password the NVR holds, as a file.
    page.once("dialog", lambda d: d.accept(admin["password"]))
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export every camera password").click()
    exported = json.loads(open(dl.value.path()).read())
    assert [(e["port"], e["serial"], e["password"]) for e in exported] == [(1, cam["serial"], revealed)]
    expect(page.locator("#message")).to_contain_text("Exported the passwords of 1 camera(s).")

    # A setup code for another port, as an installer enters it.
    page.locator("#code-form input[name=port]").fill("3")
    page.locator("#code-form input[name=code]").fill("7K3M-Q9TX")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_have_text("Setup code saved for port 3.")


def test_lab_home_names_where_each_camera_is_plugged_in(page: Page, lab: Lab):
    page.goto(lab.manifest["url"])
    for c in lab.manifest["cameras"]:
        row = page.locator("#cameras tr").filter(has_text=c["serial"])
        expect(row).to_contain_text("NVR port 1" if c["poe_port"] == 1 else "LAN")
