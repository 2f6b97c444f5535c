"""The lab's simulated camera hardware in a real browser, as a person at the bench uses it.

The lab home page leads to the hardware panel; its buttons hold a camera's reset button
for the model's time and cut or restore its power. The camera's own help page shows the
model's reset guide with its drawing, and the vendor's site has the same guide. This
module runs its own lab (the `lab` fixture of test_lab_reset.py, module-scoped).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from playwright.sync_api import Page, expect

from conftest import _UNVERIFIED
from test_lab_reset import Lab, init_lab_camera, lab  # noqa: F401 (the fixture)

STATE_WAIT_MS = 20_000


def row(page: Page, serial: str):
    return page.locator(f'#hardware tr[data-serial="{serial}"]')


def hardware_state(lab: Lab, serial: str) -> dict:
    cam = next(c for c in lab.manifest["cameras"] if c["serial"] == serial)
    with urllib.request.urlopen(cam["hardware"], timeout=5) as r:
        return json.loads(r.read())


def answers(api: str) -> bool:
    try:
        with urllib.request.urlopen(api + "/device", context=_UNVERIFIED, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def test_panel_holds_reset_and_cycles_power(page: Page, lab: Lab):
    cam = lab.camera("IPC4K15D")
    init_lab_camera(cam, "owner@example.com")
    page.goto(lab.manifest["url"])
    page.get_by_role("link", name="camera hardware").click()
    expect(page.locator("h1")).to_have_text("Camera hardware")
    for c in lab.manifest["cameras"]:
        expect(row(page, c["serial"])).to_contain_text(c["model"])
    # Models without a button say so, and offer no hold.
    turret = next(c for c in lab.manifest["cameras"] if c["model"] == "IPC4T8")
    expect(row(page, turret["serial"])).to_contain_text("no reset button")
    expect(row(page, turret["serial"]).get_by_role("button", name="Hold reset button")).to_have_count(0)

    r = row(page, cam.serial)
    expect(r.locator(".state")).to_have_text("running", timeout=STATE_WAIT_MS)
    r.get_by_role("button", name="Hold reset button").click()
    # The hold takes 15 s / 60; then the camera resets and boots again.
    expect(row(page, cam.serial).locator(".state")).to_have_text("booting", timeout=STATE_WAIT_MS)
    expect(row(page, cam.serial).locator(".state")).to_have_text("running", timeout=STATE_WAIT_MS)
    assert cam.device()["initialized"] is False

    # Power off: the camera goes dark; power on: it boots and comes back.
    row(page, cam.serial).get_by_role("button", name="Power off").click()
    expect(row(page, cam.serial).locator(".state")).to_have_text("off", timeout=STATE_WAIT_MS)
    assert hardware_state(lab, cam.serial)["power"] is False
    assert not answers(cam.api)
    row(page, cam.serial).get_by_role("button", name="Power on").click()
    expect(row(page, cam.serial).locator(".state")).to_have_text("running", timeout=STATE_WAIT_MS)
    deadline = time.monotonic() + 10
    while not answers(cam.api):
        assert time.monotonic() < deadline, "the camera did not come back"
        time.sleep(0.1)


def test_panel_refuses_cross_site_forms(page: Page, lab: Lab, other_origin):
    cam = lab.camera("IPC4K15")
    evil = other_origin(
        "/evil.html",
        f'<form method="post" action="{lab.manifest["url"]}hardware/{cam.serial}/power-off">'
        '<button id="go">win a prize</button></form>',
    )
    page.goto(evil)
    page.click("#go")
    expect(page.locator("body")).to_contain_text("Use the lab's own hardware page")
    assert hardware_state(lab, cam.serial)["power"] is True


def test_help_page_and_vendor_site_show_the_reset_guide(page: Page, lab: Lab):
    cam = lab.camera("IPC4K15")
    page.goto(cam.url("/help"))
    guide = page.locator("#reset-guide")
    expect(guide.locator("svg")).to_be_visible()
    expect(guide).to_contain_text("not on carpet")
    expect(guide).to_contain_text("hold it for 15 seconds")
    expect(guide.locator(".warning")).to_contain_text("limited warranty")
    page.goto(lab.vendor_url + "guides")
    page.get_by_role("link", name="IPC4PTZ25").click()
    expect(page.locator("h1")).to_contain_text("IPC4PTZ25")
    expect(page.locator("#reset-guide")).to_contain_text("factory servicing")
    expect(page.locator("#reset-guide svg")).to_be_visible()
