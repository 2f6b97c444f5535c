"""The camera's web pages, driven in a real browser (Debian's Chromium via Playwright).

Each test starts its own camera (see conftest.py) and goes through the pages as an owner
would: typing into the forms and pressing the buttons.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

GOOD_PASSWORD = "tulip-harbor-quietly-42"
NEW_PASSWORD = "lantern-orchard-swiftly-97"
QUESTION = "What was the name of your first pet?"

SETUP_SHOT = "/tmp/camkey-setup.png"
HOME_SHOT = "/tmp/camkey-home.png"


# ---------------------------------------------------------------------------------------
# Helpers


def fill_setup(
    page: Page,
    password: str,
    password2: str | None = None,
    *,
    setup_code: str | None = None,
    recovery_email: str = "",
    questions: tuple[tuple[str, str], ...] = (),
    static: tuple[str, str, str] | None = None,
) -> None:
    """Fills the setup form that is open in `page` (without submitting it)."""
    if setup_code is not None:
        page.fill("#setup_code", setup_code)
    page.fill("#password", password)
    page.fill("#password2", password if password2 is None else password2)
    page.fill("#recovery_email", recovery_email)
    for i in range(1, 4):
        q, a = questions[i - 1] if i <= len(questions) else ("", "")
        page.fill(f"#q{i}", q)
        page.fill(f"#a{i}", a)
    if static is None:
        page.check("input[name=network_mode][value=dhcp]")
    else:
        page.check("input[name=network_mode][value=static]")
        address, gateway, dns = static
        page.fill("#address", address)
        page.fill("#gateway", gateway)
        page.fill("#dns", dns)
    page.check("input[name=time_mode][value=browser]")


def submit(page: Page, button: str = "#submit"):
    """Presses a submit button and returns the response of the page it leads to."""
    with page.expect_navigation() as nav:
        page.click(button)
    return nav.value


def error_text(page: Page) -> str:
    expect(page.locator("#error")).to_be_visible()
    return page.locator("#error").inner_text()


def setup_camera(page: Page, cam, password: str = GOOD_PASSWORD) -> None:
    """Completes the setup guide with a good password and DHCP."""
    page.goto(cam.url("/setup"))
    fill_setup(page, password, setup_code=cam.setup_code if cam.model == "IPC4T8" else None)
    resp = submit(page)
    assert resp.status == 200, page.content()
    expect(page.locator("h1")).to_have_text("The camera is set up")
    assert cam.device()["initialized"] is True


def sign_in(page: Page, cam, password: str, username: str = "admin"):
    """Signs in through /login; returns the response of the page it leads to."""
    page.goto(cam.url("/login"))
    page.fill("#username", username)
    page.fill("#password", password)
    return submit(page)


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


# ---------------------------------------------------------------------------------------
# Setup guide


def test_setup_guide_refuses_bad_passwords_then_sets_up(page: Page, start_camera):
    cam = start_camera("IPC4K15")
    assert cam.device()["initialized"] is False

    # The start page sends an uninitialized camera to the setup guide.
    page.goto(cam.url("/"))
    assert path_of(page) == "/setup"
    expect(page.locator("h1")).to_have_text("Set up this camera")
    expect(page.locator("header .serial")).to_contain_text(cam.serial)
    # This model needs no label code.
    expect(page.locator("#setup_code")).to_have_count(0)
    # The fixed-address fields stay hidden until "fixed address" is chosen.
    expect(page.locator("#static-fields")).to_be_hidden()
    page.check("input[name=network_mode][value=static]")
    expect(page.locator("#static-fields")).to_be_visible()
    page.screenshot(path=SETUP_SHOT, full_page=True)

    # 1. A common password: refused, with the reason.
    fill_setup(page, "password1")
    resp = submit(page)
    assert resp.status == 400
    msg = error_text(page)
    assert "too easy to guess" in msg, msg
    # The page never sends a password back.
    expect(page.locator("#password")).to_have_value("")
    assert cam.device()["initialized"] is False

    # 2a. Different passwords: the page's script stops the form in the browser.
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    fill_setup(page, GOOD_PASSWORD, GOOD_PASSWORD + "x")
    page.click("#submit")
    page.wait_for_timeout(300)
    assert posts == [], posts
    assert path_of(page) == "/setup"
    validity = page.eval_on_selector("#password2", "el => el.validationMessage")
    assert "differ" in validity, validity
    # Not sent: the typed password is still in its field.
    expect(page.locator("#password")).to_have_value(GOOD_PASSWORD)
    assert cam.device()["initialized"] is False

    # 2b. ...and the camera refuses them too when the script is out of the way (a
    # browser without script, or a page whose script failed). Cloning the form drops
    # the script's listeners; the form is still posted by the browser itself.
    page.reload()
    page.evaluate(
        "() => { const f = document.getElementById('setup');"
        " f.replaceWith(f.cloneNode(true)); }"
    )
    fill_setup(page, GOOD_PASSWORD, GOOD_PASSWORD + "x")
    resp = submit(page)
    assert resp.status == 400
    msg = error_text(page)
    assert "passwords differ" in msg, msg
    assert cam.device()["initialized"] is False

    # 3. A password holding the serial: refused, naming the serial.
    fill_setup(page, f"owl-{cam.serial}-meadow")
    resp = submit(page)
    assert resp.status == 400
    msg = error_text(page)
    assert "serial" in msg, msg
    assert cam.device()["initialized"] is False

    # 4. A good password with a recovery address, a question and a fixed address.
    fill_setup(
        page,
        GOOD_PASSWORD,
        recovery_email="owner@example.com",
        questions=((QUESTION, "Biscuit the cat"),),
        static=("192.168.1.20/24", "192.168.1.1", "192.168.1.1"),
    )
    resp = submit(page)
    assert resp.status == 200, page.content()
    expect(page.locator("h1")).to_have_text("The camera is set up")
    assert cam.device()["initialized"] is True

    # 5. Sign in from the success page's link.
    page.get_by_role("link", name="Sign in").click()
    page.wait_for_url(re.compile(r"/login$"))
    expect(page.locator("#username")).to_have_value("admin")
    page.fill("#password", GOOD_PASSWORD)
    submit(page)
    assert path_of(page) == "/"
    expect(page.locator("#user")).to_have_text("admin")
    facts = page.locator("table.facts").inner_text()
    assert cam.serial in facts, facts
    assert "fixed 192.168.1.20/24" in facts, facts
    assert "owner@example.com" in facts, facts
    assert "1 set" in facts, facts
    page.screenshot(path=HOME_SHOT, full_page=True)

    # Setup is over: the guide now sends visitors to sign in.
    page.goto(cam.url("/setup"))
    assert path_of(page) in ("/login", "/")


def test_setup_code_on_labelled_model(page: Page, start_camera):
    cam = start_camera("IPC4T8")
    assert cam.setup_code, f"provision printed no setup code: {cam.provision}"

    page.goto(cam.url("/setup"))
    expect(page.locator("#setup_code")).to_be_visible()

    wrong = "ABCD-2345" if cam.setup_code.replace("-", "") != "ABCD2345" else "WXYZ-6789"
    fill_setup(page, GOOD_PASSWORD, setup_code=wrong)
    resp = submit(page)
    assert resp.status == 403
    msg = error_text(page)
    assert "does not match this camera's label" in msg, msg
    assert cam.device()["initialized"] is False
    # The typed code comes back so that the owner can correct it.
    expect(page.locator("#setup_code")).to_have_value(wrong)

    fill_setup(page, GOOD_PASSWORD, setup_code=cam.setup_code)
    resp = submit(page)
    assert resp.status == 200, page.content()
    expect(page.locator("h1")).to_have_text("The camera is set up")
    assert cam.device()["initialized"] is True


# ---------------------------------------------------------------------------------------
# Sign-in


def test_sign_in_lockout_after_five_wrong_passwords(page: Page, start_camera):
    cam = start_camera("IPC4K15")
    setup_camera(page, cam)

    for i in range(5):
        resp = sign_in(page, cam, f"wrong-password-{i}")
        assert resp.status == 401, f"attempt {i + 1}: {resp.status}"
        assert "password is wrong" in error_text(page)
        assert path_of(page) == "/login"

    # The sixth try, even with a wrong password, is not checked: wait 5 minutes.
    resp = sign_in(page, cam, "wrong-password-5")
    assert resp.status == 429
    msg = error_text(page)
    assert "Too many wrong attempts from your browser or address. Try again in 5 minutes." in msg, msg
    assert 240 < int(resp.headers.get("retry-after", "0")) <= 300

    # Even the right password is refused from this address for now.
    resp = sign_in(page, cam, GOOD_PASSWORD)
    assert resp.status == 429
    assert "5 minutes" in error_text(page)
    page.goto(cam.url("/"))
    assert path_of(page) == "/login", "signed in despite the lockout"


def api_login_from(cam, source: str, password: str) -> int:
    """`POST /api/login` as admin from the loopback address `source`; returns the status."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    port = urlsplit(cam.base_url).port
    conn = http.client.HTTPSConnection(
        "127.0.0.1", port, context=tls, timeout=10, source_address=(source, 0)
    )
    try:
        body = json.dumps({"username": "admin", "password": password})
        conn.request("POST", "/api/login", body, {"content-type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_a_browser_that_signed_in_before_is_not_held_up_by_an_attack(
    browser, context, page: Page, start_camera
):
    cam = start_camera("IPC4K15")
    setup_camera(page, cam)
    sign_in(page, cam, GOOD_PASSWORD)
    assert path_of(page) == "/"
    # The browser keeps a device cookie: for this camera only, out of reach of scripts.
    dev = {c["name"]: c for c in context.cookies()}["camkey_device"]
    assert dev["httpOnly"] and dev["secure"] and dev["sameSite"] == "Strict", dev
    assert dev["expires"] > time.time() + 300 * 86400, dev
    submit(page, "#logout")
    assert path_of(page) == "/login"

    # Attackers on other addresses: 10 free failures, then each as soon as allowed, so
    # the account's delay grows and stays alive.
    for i in range(10):
        assert api_login_from(cam, f"127.0.30.{i + 1}", "wrong-password-guess") == 401
    for i, pause in enumerate([1.1, 2.1]):
        time.sleep(pause)
        assert api_login_from(cam, f"127.0.31.{i + 1}", "wrong-password-guess") == 401

    # A new browser waits (and is told why); the owner's usual browser goes in at once.
    stranger = browser.new_context(ignore_https_errors=True)
    try:
        other = stranger.new_page()
        resp = sign_in(other, cam, GOOD_PASSWORD)
        assert resp.status == 429
        assert "signed in to this camera before is not held up" in error_text(other)
    finally:
        stranger.close()
    resp = sign_in(page, cam, GOOD_PASSWORD)
    assert resp.status == 200, error_text(page)
    assert path_of(page) == "/"


# ---------------------------------------------------------------------------------------
# Password change and audit log


def test_password_change_ends_sessions_and_is_audited(browser, page: Page, start_camera):
    cam = start_camera("IPC4K15")
    setup_camera(page, cam)
    sign_in(page, cam, GOOD_PASSWORD)
    assert path_of(page) == "/"
    old_cookies = page.context.cookies()
    assert any(c["name"] == "camkey_session" for c in old_cookies)

    # A second browser signed in at the same time.
    other = browser.new_context(ignore_https_errors=True)
    try:
        other_page = other.new_page()
        sign_in(other_page, cam, GOOD_PASSWORD)
        assert path_of(other_page) == "/"

        page.goto(cam.url("/password"))
        expect(page.locator("h1")).to_have_text("Your account: admin")

        # A wrong current password changes nothing.
        page.fill("#old_password", "not-the-password-at-all")
        page.fill("#new_password", NEW_PASSWORD)
        page.fill("#new_password2", NEW_PASSWORD)
        resp = submit(page)
        assert resp.status == 403
        assert "current password is wrong" in error_text(page)

        page.fill("#old_password", GOOD_PASSWORD)
        page.fill("#new_password", NEW_PASSWORD)
        page.fill("#new_password2", NEW_PASSWORD)
        resp = submit(page)
        assert resp.status == 200
        notice = page.locator("#notice")
        expect(notice).to_be_visible()
        assert "Password changed" in notice.inner_text()
        expect(page.locator("#login")).to_be_visible()

        # This browser's session is gone...
        page.goto(cam.url("/audit"))
        assert path_of(page) == "/login"
        # ...on the camera too, not just the cookie: replaying the old cookie gets nowhere.
        page.context.add_cookies(old_cookies)
        page.goto(cam.url("/audit"))
        assert path_of(page) == "/login"
        # ...and so is the other browser's.
        other_page.goto(cam.url("/audit"))
        assert path_of(other_page) == "/login"
    finally:
        other.close()

    # The old password no longer works; the new one does.
    resp = sign_in(page, cam, GOOD_PASSWORD)
    assert resp.status == 401
    assert "password is wrong" in error_text(page)
    sign_in(page, cam, NEW_PASSWORD)
    assert path_of(page) == "/"
    expect(page.locator("#user")).to_have_text("admin")

    page.goto(cam.url("/audit"))
    table = page.locator("#audit")
    expect(table).to_be_visible()
    events = [e.strip() for e in table.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    for wanted in ("initialized", "login", "password_changed"):
        assert wanted in events, events
    # Newest first: the last sign-in sits above the password change, which sits above setup.
    assert events.index("login") < events.index("password_changed") < events.index(
        "initialized"
    ), events

    # Signing out ends the session.
    page.goto(cam.url("/"))
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(cam.url("/audit"))
    assert path_of(page) == "/login"


# ---------------------------------------------------------------------------------------
# Security


def test_onvif_access_switch_needs_the_password_and_says_what_it_keeps(page: Page, start_camera):
    cam = start_camera("IPC4K15")
    setup_camera(page, cam)
    sign_in(page, cam, GOOD_PASSWORD)
    page.goto(cam.url("/password"))
    expect(page.locator("#onvif-now")).to_contain_text("Now: off")
    expect(page.locator("#onvif-now")).to_contain_text("one-way hash")

    # Switching it on without the password, or with a wrong one, changes nothing.
    page.check("#onvif")
    resp = submit(page, "#save-onvif")
    assert resp.status == 400, resp.status
    assert "password" in error_text(page).lower()
    expect(page.locator("#onvif-now")).to_contain_text("Now: off")
    page.check("#onvif")
    page.fill("#onvif_password", "not-the-password-at-all")
    resp = submit(page, "#save-onvif")
    assert resp.status in (401, 403), resp.status
    expect(page.locator("#onvif-now")).to_contain_text("Now: off")

    page.check("#onvif")
    page.fill("#onvif_password", GOOD_PASSWORD)
    resp = submit(page, "#save-onvif")
    assert resp.status == 200, error_text(page)
    expect(page.locator("#notice")).to_contain_text("ONVIF clients")
    expect(page.locator("#onvif-now")).to_contain_text("Now: on")

    # Off again needs no password.
    page.uncheck("#onvif")
    resp = submit(page, "#save-onvif")
    assert resp.status == 200, error_text(page)
    expect(page.locator("#onvif-now")).to_contain_text("Now: off")


def test_setup_page_security_headers(page: Page, start_camera):
    cam = start_camera("IPC4K15")
    resp = page.goto(cam.url("/setup"))
    assert resp.status == 200
    headers = resp.headers
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, csp
    assert headers.get("x-frame-options", "").upper() == "DENY"
    assert headers.get("x-content-type-options") == "nosniff"


def test_cross_site_form_post_is_refused(page: Page, start_camera, other_origin):
    cam = start_camera("IPC4K15")
    target = cam.url("/setup")
    attacker = other_origin(
        "/attack.html",
        f"""<!doctype html><html><body>
<form id="f" method="post" action="{target}">
<input name="password" value="{GOOD_PASSWORD}">
<input name="password2" value="{GOOD_PASSWORD}">
<input name="network_mode" value="dhcp">
<input name="time_mode" value="browser">
</form>
<script>document.getElementById("f").submit();</script>
</body></html>""",
    )

    with page.expect_response(
        lambda r: r.url == target and r.request.method == "POST"
    ) as posted:
        page.goto(attacker)
    resp = posted.value
    assert resp.status == 403, resp.status
    page.wait_for_url(target)
    expect(page.locator("h1")).to_have_text("Request refused")
    assert cam.device()["initialized"] is False

    # The same values typed on the camera's own page do set it up, so the refusal above
    # was for the origin, not for the form.
    page.goto(target)
    fill_setup(page, GOOD_PASSWORD)
    resp = submit(page)
    assert resp.status == 200
    assert cam.device()["initialized"] is True
