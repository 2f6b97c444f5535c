"""The camera's "Forgot password?" pages and its recovery settings, in a real browser.

Each test starts its own camera (see conftest.py). To save time the camera is set up
through its JSON API (`POST /api/init`); everything after that goes through the pages as
an owner would. Mail goes to a local aiosmtpd server on 127.0.0.1; QR codes are read back
from Chromium's screenshots with zxing-cpp.

Redeeming a vendor security code (the last step of the QR method) is covered by the Rust
tests: there is no vendor service to issue one here.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
import threading
import time
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from conftest import _UNVERIFIED, HOST, free_port
from test_camera_pages import GOOD_PASSWORD, NEW_PASSWORD, error_text, path_of, sign_in, submit

OWNER_EMAIL = "owner@example.com"
QUESTIONS = (
    ("What was the name of your first pet?", "Biscuit the cat"),
    ("In which town was your first school?", "Lower Wickham"),
)
QR_SHOT = "/tmp/camkey-forgot-qr.png"
MAIL_WAIT_S = 15.0


# ---------------------------------------------------------------------------------------
# Helpers


def init_camera(
    cam,
    *,
    password: str = GOOD_PASSWORD,
    recovery_email: str | None = OWNER_EMAIL,
    questions: tuple[tuple[str, str], ...] = QUESTIONS,
) -> None:
    """Sets the camera up through `POST /api/init` (quicker than the setup guide)."""
    body: dict = {"password": password}
    if recovery_email is not None:
        body["recovery_email"] = recovery_email
    if questions:
        body["security_questions"] = [{"question": q, "answer": a} for q, a in questions]
    req = urllib.request.Request(
        cam.url("/api/init"),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, context=_UNVERIFIED, timeout=30) as r:
        assert r.status == 200, r.read()
    assert cam.device()["initialized"] is True


def open_forgot(page: Page, cam) -> None:
    """From the sign-in page, follows "Forgot password?"."""
    page.goto(cam.url("/login"))
    link = page.locator("#forgot")
    expect(link).to_have_text("Forgot password?")
    link.click()
    page.wait_for_url(re.compile(r"/forgot$"))
    expect(page.locator("h1")).to_have_text("Forgot password?")


def methods_shown(page: Page) -> list[str]:
    ids = page.locator("[id^=method-]").evaluate_all("els => els.map(e => e.id)")
    return [i.removeprefix("method-") for i in ids]


def notice_text(page: Page) -> str:
    expect(page.locator("#notice")).to_be_visible()
    return page.locator("#notice").inner_text()


def audit_events(page: Page, cam) -> list[str]:
    page.goto(cam.url("/audit"))
    table = page.locator("#audit")
    expect(table).to_be_visible()
    return [e.strip() for e in table.locator("tbody tr td:nth-child(3)").all_inner_texts()]


def sign_out(page: Page, cam) -> None:
    page.goto(cam.url("/"))
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))


class Inbox:
    """Collects what the local SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage, bytes]] = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd name)
        raw = bytes(envelope.content)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self._cond:
            self.messages.append((list(envelope.rcpt_tos), msg, raw))
            self._cond.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = MAIL_WAIT_S):
        """Waits until `count` mails have arrived; returns the newest one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    subjects = [m["Subject"] for _, m, _ in self.messages]
                    pytest.fail(f"expected {count} mail(s), got {len(self.messages)}: {subjects}")
                self._cond.wait(left)
            return self.messages[count - 1]


@pytest.fixture
def smtp_server():
    """An SMTP server on 127.0.0.1 (no TLS, no login). Yields (inbox, port)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname=HOST, port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def body_of(msg) -> str:
    """The decoded text of a mail, with plain newlines."""
    return msg.get_content().replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------
# 1. Which methods are offered


def test_forgot_link_shows_the_methods_of_this_setup(page: Page, start_camera):
    cam = start_camera("IPC4K15")
    # Questions and a recovery address, but no mail server: no e-mailed code.
    init_camera(cam)

    open_forgot(page, cam)
    assert methods_shown(page) == ["questions", "qr"]
    expect(page.locator("#message")).to_contain_text("Choose a way")
    expect(page.locator("#method-email")).to_have_count(0)

    # The page agrees with the API.
    assert cam.get_json("/api/recovery")["methods"] == ["questions", "qr"]

    # The links lead to their pages.
    page.click("#method-questions")
    page.wait_for_url(re.compile(r"/forgot/questions$"))
    for i, (q, _) in enumerate(QUESTIONS):
        expect(page.locator(f"label[for=a{i}]")).to_have_text(q)
    expect(page.locator("#a2")).to_have_count(0)
    page.go_back()
    page.click("#method-qr")
    page.wait_for_url(re.compile(r"/forgot/qr$"))
    expect(page.locator("#challenge")).to_be_visible()

    # Without questions, only the QR code is left.
    cam2 = start_camera("IPC4K15")
    init_camera(cam2, questions=())
    open_forgot(page, cam2)
    assert methods_shown(page) == ["qr"]
    # ...and the questions page says so instead of showing a form.
    resp = page.goto(cam2.url("/forgot/questions"))
    assert resp.status == 409
    expect(page.locator("#message")).to_contain_text("Security questions are not set")
    expect(page.locator("#a0")).to_have_count(0)


# ---------------------------------------------------------------------------------------
# 2. Security questions


def test_security_questions_reset_the_password(page: Page, start_camera):
    cam = start_camera("IPC4K15")
    init_camera(cam)

    open_forgot(page, cam)
    page.click("#method-questions")
    page.wait_for_url(re.compile(r"/forgot/questions$"))

    # One wrong answer: refused, nothing changes.
    page.fill("#a0", QUESTIONS[0][1])
    page.fill("#a1", "Upper Wickham")
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password2", NEW_PASSWORD)
    resp = submit(page)
    assert resp.status == 401
    msg = error_text(page)
    assert "answer is not right" in msg, msg
    expect(page.locator("#new_password")).to_have_value("")
    assert path_of(page) == "/forgot/questions"

    # Right answers, typed with other case and spacing.
    page.fill("#a0", "  BISCUIT   the\tCat ")
    page.fill("#a1", "lower wickham")
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password2", NEW_PASSWORD)
    resp = submit(page)
    assert resp.status == 200, page.content()
    msg = notice_text(page)
    assert msg.startswith("The password is reset"), msg
    expect(page.locator("#login")).to_be_visible()

    # The old password no longer signs in; the new one does.
    resp = sign_in(page, cam, GOOD_PASSWORD)
    assert resp.status == 401
    assert "password is wrong" in error_text(page)
    sign_in(page, cam, NEW_PASSWORD)
    assert path_of(page) == "/"
    expect(page.locator("#user")).to_have_text("admin")

    events = audit_events(page, cam)
    assert "recovery_answers_wrong" in events, events
    assert "password_recovered" in events, events
    assert events.index("password_recovered") < events.index("recovery_answers_wrong"), events


# ---------------------------------------------------------------------------------------
# 3. E-mailed code


def test_emailed_code_resets_the_password(page: Page, start_camera, smtp_server):
    inbox, smtp_port = smtp_server
    cam = start_camera("IPC4K15")
    init_camera(cam)

    # Without a mail server there is no e-mailed code.
    assert "email" not in cam.get_json("/api/recovery")["methods"]

    # The owner sets the mail server on the settings page.
    sign_in(page, cam, GOOD_PASSWORD)
    assert path_of(page) == "/"
    page.goto(cam.url("/settings"))
    expect(page.locator("h1")).to_have_text("Recovery settings")
    page.fill("#server", HOST)
    page.fill("#port", str(smtp_port))
    page.select_option("#tls", "none")
    page.fill("#username", "")
    page.fill("#smtp_password", "")
    page.fill("#sender", "camera@example.com")
    page.fill("#sp", GOOD_PASSWORD)
    resp = submit(page, "#save-smtp")
    assert resp.status == 200, page.content()
    assert "mail server is saved" in notice_text(page)
    expect(page.locator("#server")).to_have_value(HOST)
    expect(page.locator("#port")).to_have_value(str(smtp_port))
    expect(page.locator("#tls")).to_have_value("none")

    # The test mail arrives at the recovery address.
    resp = submit(page, "#test-mail")
    assert resp.status == 200, page.content()
    assert "test mail went to o***@example.com" in notice_text(page)
    rcpt, msg, _ = inbox.wait_for(1)
    assert rcpt == [OWNER_EMAIL], rcpt
    assert "test mail" in msg["Subject"], msg["Subject"]
    assert cam.serial in body_of(msg)

    sign_out(page, cam)

    # Now "Forgot password?" offers the e-mailed code.
    open_forgot(page, cam)
    assert methods_shown(page) == ["questions", "email", "qr"]
    page.click("#method-email")
    page.wait_for_url(re.compile(r"/forgot/email$"))
    # A stranger at the page learns the first character only, not the domain (S2).
    expect(page.locator("main")).to_contain_text("o***@***")

    resp = submit(page, "#send")
    assert resp.status == 200, page.content()
    assert "A code is on its way to o***@***" in notice_text(page)
    rcpt, msg, _ = inbox.wait_for(2)
    assert rcpt == [OWNER_EMAIL], rcpt
    assert "recovery code" in msg["Subject"], msg["Subject"]
    m = re.search(r"^Code: ([0-9A-Z]{5}-[0-9A-Z]{5})$", body_of(msg), re.M)
    assert m, body_of(msg)
    code = m.group(1)

    # A wrong (well-formed) code first: refused.
    wrong = ("B" if code[0] != "B" else "C") + code[1:]
    page.fill("#code", wrong)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password2", NEW_PASSWORD)
    resp = submit(page)
    assert resp.status == 401
    msg_text = error_text(page)
    assert "not valid for this camera" in msg_text, msg_text
    assert path_of(page) == "/forgot/email"

    # The right one, typed in lower case, with a new password.
    page.fill("#code", code.lower())
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password2", NEW_PASSWORD)
    resp = submit(page)
    assert resp.status == 200, page.content()
    assert notice_text(page).startswith("The password is reset")

    # A notice of the reset arrives at the recovery address, without secrets.
    rcpt, notice, raw = inbox.wait_for(3)
    assert rcpt == [OWNER_EMAIL], rcpt
    assert "password was reset" in notice["Subject"], notice["Subject"]
    text = body_of(notice)
    assert "e-mailed recovery code" in text, text
    for secret in (code, code.replace("-", ""), NEW_PASSWORD):
        assert secret not in text, f"the reset notice holds {secret!r}:\n{text}"
        assert secret.encode() not in raw, f"the raw reset notice holds {secret!r}"

    # The code is used up: it does not work a second time.
    page.goto(cam.url("/forgot/email"))
    page.fill("#code", code)
    page.fill("#new_password", GOOD_PASSWORD)
    page.fill("#new_password2", GOOD_PASSWORD)
    resp = submit(page)
    assert resp.status == 401
    assert "not valid" in error_text(page)

    # The new password signs in; the old one does not.
    resp = sign_in(page, cam, GOOD_PASSWORD)
    assert resp.status == 401
    sign_in(page, cam, NEW_PASSWORD)
    assert path_of(page) == "/"
    events = audit_events(page, cam)
    for wanted in ("smtp_changed", "recovery_code_sent", "recovery_code_wrong", "password_recovered"):
        assert wanted in events, events


# ---------------------------------------------------------------------------------------
# 4. QR code


def test_qr_page_shows_a_readable_code(context, page: Page, start_camera):
    import zxingcpp
    from PIL import Image

    cam = start_camera("IPC4K15")
    init_camera(cam)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=cam.base_url)

    open_forgot(page, cam)
    page.click("#method-qr")
    page.wait_for_url(re.compile(r"/forgot/qr$"))
    expect(page.locator("h1")).to_have_text("Reset with a QR code")

    challenge = page.locator("#challenge").input_value().strip()
    assert challenge.startswith("CK1"), challenge
    expect(page.locator("#qr svg")).to_have_count(1)
    address = page.locator("#reset-address")
    expect(address).to_be_visible()
    assert "@" in address.inner_text()
    assert address.get_attribute("href") == "mailto:" + address.inner_text().strip()
    expect(page.locator("#code")).to_be_visible()
    expect(page.locator("#new_password")).to_be_visible()
    expect(page.locator("#new_password2")).to_be_visible()

    # The QR code, as Chromium draws it, reads back as the vendor's reset page with this
    # challenge in its fragment.
    png = page.locator("#qr").screenshot(path=QR_SHOT)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    texts = [b.text for b in found]
    assert len(texts) == 1, f"expected one QR code in {QR_SHOT}, read {texts}"
    url = texts[0]
    assert url.startswith("https://"), url
    assert url.endswith("#" + challenge), (url, challenge)

    # The copy button copies the challenge.
    copy = page.locator("#copy")
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == challenge

    # Reloading shows the same challenge (no new one per visit).
    page.reload()
    assert page.locator("#challenge").input_value().strip() == challenge

    # A new QR code right away: too soon, and the old one is still shown.
    resp = submit(page, "#new-qr")
    assert resp.status == 429
    msg = error_text(page)
    assert "A new one can be made in 12 hours" in msg, msg
    assert "still valid" in msg, msg
    assert 11 * 3600 < int(resp.headers.get("retry-after", "0")) <= 12 * 3600
    assert page.locator("#challenge").input_value().strip() == challenge
    expect(page.locator("#qr svg")).to_have_count(1)


# ---------------------------------------------------------------------------------------
# 5. A model without web reset


def test_ptz_camera_has_no_web_reset(page: Page, start_camera):
    cam = start_camera("IPC4PTZ25")
    assert cam.device()["web_reset"] is False
    init_camera(cam)

    open_forgot(page, cam)
    msg = page.locator("#message").inner_text()
    assert "no password reset from its web page" in msg, msg
    assert "support" in msg, msg
    assert cam.serial in msg, msg
    expect(page.locator("#methods")).to_have_count(0)
    expect(page.locator("[id^=method-]")).to_have_count(0)
    expect(page.locator("a[href^='/forgot/']")).to_have_count(0)

    # The method pages are not there by address either.
    for path in ("/forgot/questions", "/forgot/qr", "/forgot/email"):
        resp = page.goto(cam.url(path))
        assert resp.status >= 400, (path, resp.status)
        expect(page.locator("#a0, #challenge, #send")).to_have_count(0)


# ---------------------------------------------------------------------------------------
# 6. Settings need the current password


def test_recovery_address_change_needs_current_password(page: Page, start_camera):
    cam = start_camera("IPC4K15")
    init_camera(cam)
    sign_in(page, cam, GOOD_PASSWORD)
    assert path_of(page) == "/"

    page.goto(cam.url("/settings"))
    expect(page.locator("#recovery-now")).to_have_text(OWNER_EMAIL)

    page.fill("#recovery_email", "thief@example.net")
    page.fill("#rp", "not-the-password-at-all")
    resp = submit(page, "#save-recovery")
    assert resp.status == 403
    msg = error_text(page)
    assert "current password is wrong" in msg, msg
    expect(page.locator("#notice")).to_have_count(0)
    expect(page.locator("#recovery-now")).to_have_text(OWNER_EMAIL)
    page.goto(cam.url("/settings"))
    expect(page.locator("#recovery-now")).to_have_text(OWNER_EMAIL)

    # With the right password the same form does change it.
    page.fill("#recovery_email", "new-owner@example.org")
    page.fill("#rp", GOOD_PASSWORD)
    resp = submit(page, "#save-recovery")
    assert resp.status == 200, page.content()
    assert "recovery address is saved" in notice_text(page)
    expect(page.locator("#recovery-now")).to_have_text("new-owner@example.org")

    events = audit_events(page, cam)
    assert "password_confirm_failed" in events, events
    assert events.count("recovery_email_changed") == 1, events
