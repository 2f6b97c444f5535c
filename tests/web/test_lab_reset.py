"""The whole lab, end to end, in a real browser: camera, vendor reset page and lab inbox.

One `camkey lab` runs for the whole module (see the `lab` fixture). The tests go through
the pages as an owner would: the camera's "Reset with a QR code" page, the vendor's reset
page opened from the QR code (as a phone would), the security code read from the lab
inbox, and the new password typed back on the camera. QR codes are read back from
Chromium's screenshots with zxing-cpp, as in test_recovery_pages.py.

The tests share the lab (and its inbox), so they run in file order: the inbox test
expects the owner's mail of the first test.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import _UNVERIFIED, CAMKEY_BIN, HOST
from test_camera_pages import GOOD_PASSWORD, NEW_PASSWORD, error_text, path_of, sign_in, submit

OWNER_EMAIL = "owner@example.com"
OWNER_HINT = "o***@***"
LAB_START_S = 20.0
LAB_STOP_S = 20.0
MAIL_WAIT_S = 15.0
QUIET_WAIT_S = 2.5
QR_SHOT = "/tmp/camkey-lab-qr.png"
QR_SHOT_FACTORY = "/tmp/camkey-lab-qr-factory.png"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# ---------------------------------------------------------------------------------------
# The lab


@dataclass
class LabCamera:
    """One camera of the lab, as `lab.json` lists it."""

    serial: str
    model: str
    base_url: str  # the web UI, without the trailing slash
    api: str

    def url(self, path: str) -> str:
        return self.base_url + path

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(self.url(path), context=_UNVERIFIED, timeout=10) as r:
            return json.loads(r.read())

    def device(self) -> dict:
        return self.get_json("/api/device")


@dataclass
class Lab:
    dir: Path
    manifest: dict
    proc: subprocess.Popen
    log_path: Path

    @property
    def vendor_url(self) -> str:
        return self.manifest["vendor"]["url"]

    @property
    def reset_address(self) -> str:
        return self.manifest["vendor"]["reset_address"]

    @property
    def inbox_url(self) -> str:
        return self.manifest["inbox"]["url"]

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def camera(self, model: str) -> LabCamera:
        """The lab's camera of `model`, once it answers."""
        for c in self.manifest["cameras"]:
            if c["model"] == model:
                cam = LabCamera(c["serial"], c["model"], c["url"].rstrip("/"), c["api"])
                wait_for_device(self, cam)
                return cam
        pytest.fail(f"the lab has no {model}: {[c['model'] for c in self.manifest['cameras']]}")

    def messages(self) -> list[dict]:
        with urllib.request.urlopen(self.inbox_url + "api/messages", timeout=10) as r:
            assert r.status == 200
            return json.loads(r.read())

    def wait_for_mail(self, pred, what: str, timeout: float = MAIL_WAIT_S) -> dict:
        """Polls the inbox until a message matches `pred`; returns the newest such."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages() if pred(m)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                subjects = [(m["to"], m["subject"]) for m in self.messages()]
                pytest.fail(f"no {what} in the lab inbox within {timeout}s: {subjects}")
            time.sleep(0.2)


def wait_for_device(lab: Lab, cam: LabCamera) -> None:
    """The lab's cameras may take a moment to answer (simulated boot)."""
    deadline = time.monotonic() + LAB_START_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            pytest.fail(f"the lab exited with {lab.proc.returncode}:\n{lab.log()}")
        try:
            with urllib.request.urlopen(cam.api + "/device", context=_UNVERIFIED, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(0.1)
    pytest.fail(f"{cam.serial} did not answer within {LAB_START_S}s ({last}):\n{lab.log()}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, camkey_bin) -> Lab:
    d = tmp_path_factory.mktemp("lab")
    log_path = d.parent / f"{d.name}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [camkey_bin, "lab", "--dir", str(d), "--time-scale", "60", "--bind", HOST],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    the_lab = Lab(dir=d, manifest={}, proc=proc, log_path=log_path)
    try:
        deadline = time.monotonic() + LAB_START_S
        manifest_path = d / "lab.json"
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the lab exited with {proc.returncode}:\n{the_lab.log()}")
            if manifest_path.is_file():
                try:
                    the_lab.manifest = json.loads(manifest_path.read_text())
                    break
                except json.JSONDecodeError:
                    pass  # written atomically, but be patient anyway
            if time.monotonic() > deadline:
                pytest.fail(f"no lab.json within {LAB_START_S}s:\n{the_lab.log()}")
            time.sleep(0.1)
        m = the_lab.manifest
        for key in ("vendor", "inbox"):
            assert key in m, f"lab.json has no {key}: {m}"
        for url in (m["vendor"]["url"], m["inbox"]["url"], *(c["url"] for c in m["cameras"])):
            assert url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")), url
        yield the_lab
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=LAB_STOP_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
                pytest.fail(f"the lab did not stop within {LAB_STOP_S}s of SIGINT:\n{the_lab.log()}")


# ---------------------------------------------------------------------------------------
# Helpers


def init_lab_camera(cam: LabCamera, recovery_email: str | None) -> None:
    """Sets the camera up through `POST {api}/init`."""
    body: dict = {"password": GOOD_PASSWORD}
    if recovery_email is not None:
        body["recovery_email"] = recovery_email
    req = urllib.request.Request(
        cam.api + "/init",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, context=_UNVERIFIED, timeout=30) as r:
        assert r.status == 200, r.read()
    assert cam.device()["initialized"] is True


def read_qr(page: Page, shot: str) -> str:
    """Decodes the QR code shown in `#qr` of the open page."""
    import zxingcpp
    from PIL import Image

    expect(page.locator("#qr svg")).to_have_count(1)
    png = page.locator("#qr").screenshot(path=shot)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    texts = [b.text for b in found]
    assert len(texts) == 1, f"expected one QR code in {shot}, read {texts}"
    return texts[0]


def open_camera_qr(page: Page, cam: LabCamera, lab: Lab, shot: str) -> tuple[str, str]:
    """Opens the camera's /forgot/qr page; returns (challenge, URL read from the QR code)."""
    resp = page.goto(cam.url("/forgot/qr"))
    assert resp.status == 200, resp.status
    expect(page.locator("h1")).to_have_text("Reset with a QR code")
    challenge = page.locator("#challenge").input_value().strip()
    assert challenge.startswith("CK1"), challenge
    url = read_qr(page, shot)
    assert url == f"{lab.vendor_url}reset#{challenge}", (url, challenge)
    return challenge, url


def answer_of(page: Page) -> str:
    answer = page.locator("#answer")
    expect(answer).to_be_visible()
    expect(answer).not_to_have_text("")
    return answer.inner_text()


def open_fresh(page: Page, url: str):
    """Loads `url` as a new document (a change of fragment alone would not reload)."""
    page.goto("about:blank")
    return page.goto(url)


def damage(challenge: str) -> str:
    """The challenge with one character (in the middle) changed to another symbol."""
    i = len(challenge) // 2
    old = challenge[i]
    new = next(c for c in "XYZ" if c != old)
    assert new in CROCKFORD
    return challenge[:i] + new + challenge[i + 1 :]


# ---------------------------------------------------------------------------------------
# 1. The QR code's web path, from the camera to the vendor and back


def test_qr_reset_through_vendor_page_and_inbox(context, page: Page, lab: Lab):
    cam = lab.camera("IPC4K15")
    init_lab_camera(cam, OWNER_EMAIL)
    before = len(lab.messages())

    challenge, url = open_camera_qr(page, cam, lab, QR_SHOT)

    # A phone scans the code: the vendor's reset page, with the challenge filled in.
    phone = context.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    resp = phone.goto(url)
    assert resp.status == 200, resp.status
    expect(phone.locator("h1")).to_have_text("Reset a camera password")
    expect(phone.locator("#challenge")).to_have_value(challenge)
    expect(phone.locator("#from-camera")).to_be_visible()
    expect(phone.locator("#answer")).to_be_hidden()

    with phone.expect_response(lambda r: r.url.endswith("/api/reset-requests")) as posted:
        phone.click("#send")
    assert posted.value.status == 200, posted.value.text()
    msg = answer_of(phone)
    assert "on its way" in msg, msg
    assert OWNER_HINT in msg, msg
    assert OWNER_EMAIL not in msg, msg
    assert OWNER_EMAIL not in phone.content()
    assert errors == [], errors

    # The security code arrives from the vendor's reset address.
    mail = lab.wait_for_mail(
        lambda m: OWNER_EMAIL in m["to"]
        and m["from"] == lab.reset_address
        and re.search(r"^Code: ", m["text"], re.M),
        "security code mail",
    )
    assert cam.serial in mail["subject"] + mail["text"], mail
    code = re.search(r"^Code: (\S+)\s*$", mail["text"], re.M).group(1)
    assert len(lab.messages()) >= before + 1
    phone.close()

    # Back on the camera: the code with a new password.
    page.reload()
    assert page.locator("#challenge").input_value().strip() == challenge
    page.fill("#code", code)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password2", NEW_PASSWORD)
    resp = submit(page)
    assert resp.status == 200, page.content()
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    assert notice.inner_text().startswith("The password is reset"), notice.inner_text()
    expect(page.locator("#login")).to_be_visible()

    # The old password no longer signs in; the new one does.
    resp = sign_in(page, cam, GOOD_PASSWORD)
    assert resp.status == 401
    assert "password is wrong" in error_text(page)
    sign_in(page, cam, NEW_PASSWORD)
    assert path_of(page) == "/"
    expect(page.locator("#user")).to_have_text("admin")

    # The camera tells the owner, through the lab inbox, without the code.
    reset_notice = lab.wait_for_mail(
        lambda m: OWNER_EMAIL in m["to"] and "password was reset" in m["subject"],
        "reset notice",
    )
    whole = json.dumps(reset_notice)
    for secret in (code, code.replace("-", ""), NEW_PASSWORD):
        assert secret not in whole, f"the reset notice holds {secret!r}: {reset_notice}"

    # The code is used up.
    page.goto(cam.url("/forgot/qr"))
    page.fill("#code", code)
    page.fill("#new_password", GOOD_PASSWORD)
    page.fill("#new_password2", GOOD_PASSWORD)
    resp = submit(page)
    assert resp.status >= 400, resp.status
    error_text(page)


# ---------------------------------------------------------------------------------------
# 2. The vendor page with damaged or odd input


def test_vendor_page_damaged_challenge_and_odd_fragments(context, page: Page, lab: Lab):
    cam = lab.camera("IPC4K15")
    if not cam.device()["initialized"]:
        init_lab_camera(cam, OWNER_EMAIL)
    page.goto(cam.url("/forgot/qr"))
    challenge = page.locator("#challenge").input_value().strip()
    assert challenge.startswith("CK1"), challenge
    before = len(lab.messages())

    errors: list[str] = []
    phone = context.new_page()
    phone.on("pageerror", lambda e: errors.append(str(e)))

    # One character changed: the answer explains how to copy it, without echoing it.
    bad = damage(challenge)
    phone.goto(f"{lab.vendor_url}reset#{bad}")
    expect(phone.locator("#challenge")).to_have_value(bad)
    with phone.expect_response(lambda r: r.url.endswith("/api/reset-requests")) as posted:
        phone.click("#send")
    api = posted.value
    assert api.status == 400, api.status
    assert bad not in api.text(), api.text()
    msg = answer_of(phone)
    assert "CK1" in msg, msg
    assert "copy" in msg.lower(), msg
    assert bad not in msg and bad[3:] not in msg, msg
    assert "on its way" not in msg, msg
    assert errors == [], errors

    # No fragment at all: the empty form.
    for fragment in ("", "#"):
        resp = open_fresh(phone, f"{lab.vendor_url}reset{fragment}")
        assert resp.status == 200
        expect(phone.locator("#reset-form")).to_be_visible()
        expect(phone.locator("#challenge")).to_have_value("")
        expect(phone.locator("#from-camera")).to_be_hidden()
        expect(phone.locator("#send")).to_be_enabled()
        expect(phone.locator("#answer")).to_be_hidden()
    assert errors == [], errors

    # Garbage fragments: the page and its form still show; the text is only text.
    for garbage in ("hello world", "<img src=x onerror=alert(1)>", "%3Cb%3Ebold%3C%2Fb%3E"):
        resp = open_fresh(phone, f"{lab.vendor_url}reset#{garbage}")
        assert resp.status == 200
        expect(phone.locator("#reset-form")).to_be_visible()
        expect(phone.locator("#send")).to_be_visible()
        expect(phone.locator("#challenge")).not_to_have_value(challenge)
        expect(phone.locator("main img, main b")).to_have_count(0)
    assert errors == [], errors

    # Sent anyway: an error answer, never the input back.
    open_fresh(phone, f"{lab.vendor_url}reset#hello world")
    with phone.expect_response(lambda r: r.url.endswith("/api/reset-requests")) as posted:
        phone.click("#send")
    assert posted.value.status == 400
    msg = answer_of(phone)
    assert "CK1" in msg and "hello" not in msg, msg
    assert errors == [], errors

    # Nothing of this was mailed.
    time.sleep(0.5)
    assert len(lab.messages()) == before, lab.messages()[before:]


def test_vendor_page_malformed_percent_fragment(context, lab: Lab):
    """A fragment that is not valid percent-encoding (a cut-off or mangled link) must not
    break the page's script: the page shows its form, and the button asks the service and
    shows its answer."""
    phone = context.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    resp = phone.goto(f"{lab.vendor_url}reset#CK1%E0%A4%A")
    assert resp.status == 200
    expect(phone.locator("#reset-form")).to_be_visible()
    expect(phone.locator("#send")).to_be_visible()
    assert errors == [], f"the reset page's script failed: {errors}"
    # The text of the link is in the field, and the button gets an answer.
    expect(phone.locator("#challenge")).not_to_have_value("")
    phone.click("#send")
    msg = answer_of(phone)
    assert "CK1" in msg, msg


def test_vendor_page_form_works_without_script(browser, lab: Lab):
    """The reset page's form works without its script (docs: "without script, a form
    does the same"): posting it shows the fixed answer on the page."""
    ctx = browser.new_context(java_script_enabled=False)
    try:
        phone = ctx.new_page()
        phone.set_default_timeout(10_000)
        phone.goto(f"{lab.vendor_url}reset")
        phone.fill("#challenge", "CK1 not a real code")
        resp = submit(phone, "#send")
        assert resp.status == 400, (resp.status, phone.content()[:300])
        msg = answer_of(phone)
        assert "CK1" in msg and "not a real code" not in msg, msg
    finally:
        ctx.close()


# ---------------------------------------------------------------------------------------
# 3. A camera with the factory-default recovery address


def test_factory_address_camera_gets_the_support_desk_text(context, page: Page, lab: Lab):
    cam = lab.camera("IPC4K15D")
    init_lab_camera(cam, None)

    _, url = open_camera_qr(page, cam, lab, QR_SHOT_FACTORY)
    before = len(lab.messages())

    phone = context.new_page()
    phone.goto(url)
    expect(phone.locator("#from-camera")).to_be_visible()
    with phone.expect_response(lambda r: r.url.endswith("/api/reset-requests")) as posted:
        phone.click("#send")
    assert posted.value.status == 200, posted.value.text()
    msg = answer_of(phone)
    assert "factory recovery address" in msg, msg
    assert "support desk" in msg, msg
    assert "order number" in msg, msg
    assert lab.manifest["vendor"]["support_address"] in msg, msg
    assert "on its way" not in msg, msg

    # No mail to anyone: not to the owner, not to the support desk.
    time.sleep(QUIET_WAIT_S)
    after = lab.messages()
    assert len(after) == before, after[before:]


# ---------------------------------------------------------------------------------------
# 4. The lab inbox's own pages


def test_inbox_pages_list_mailboxes_and_compose(page: Page, lab: Lab):
    resp = page.goto(lab.inbox_url)
    assert resp.status == 200
    expect(page.locator("h1")).to_have_text("Lab inbox")
    boxes = page.locator("#mailboxes li a").all_inner_texts()
    # The owner's mail of the first test (tests share the lab and run in file order).
    assert OWNER_EMAIL in boxes, boxes
    recipients = sorted({to for m in lab.messages() for to in m["to"]})
    assert sorted(b.strip() for b in boxes) == recipients, (boxes, recipients)

    # The owner's mailbox page shows the vendor's mail and the camera's reset notice.
    page.click(f"#mailboxes a:text-is('{OWNER_EMAIL}')")
    page.wait_for_url(re.compile(re.escape(f"/mailbox/{OWNER_EMAIL}") + "$"))
    expect(page.locator("h1")).to_have_text(OWNER_EMAIL)
    subjects = page.locator("article.message h2").all_inner_texts()
    assert any("password was reset" in s for s in subjects), subjects

    # A bad address on the compose form: an error, nothing sent.
    page.goto(lab.inbox_url)
    before = len(lab.messages())
    page.fill("#to", "not an address")
    page.fill("#subject", "x")
    resp = submit(page, "#send")
    assert resp.status == 400
    assert "valid" in error_text(page)
    assert len(lab.messages()) == before

    # A mail written on the compose form lands in its mailbox.
    subject = f"Lab hello {time.time_ns()}"
    page.goto(lab.inbox_url)
    page.fill("#from", "tester@example.net")
    page.fill("#to", "someone@example.com")
    page.fill("#subject", subject)
    page.fill("#body", "Hello from the compose form.\nSecond line.")
    resp = submit(page, "#send")
    assert resp.status == 200, page.content()
    assert path_of(page) == "/mailbox/someone@example.com", page.url
    expect(page.locator("h1")).to_have_text("someone@example.com")
    first = page.locator("article.message").first
    expect(first.locator("h2")).to_have_text(subject)
    expect(first.locator(".meta")).to_contain_text("tester@example.net")
    expect(first.locator("pre")).to_contain_text("Hello from the compose form.")
    expect(first.locator("pre")).to_contain_text("Second line.")

    # The JSON API agrees, newest last; the home page now lists the new mailbox.
    newest = lab.messages()[-1]
    assert newest["to"] == ["someone@example.com"], newest
    assert newest["from"] == "tester@example.net", newest
    assert newest["subject"] == subject, newest
    page.goto(lab.inbox_url)
    assert "someone@example.com" in page.locator("#mailboxes li a").all_inner_texts()
