"""The vendor's support desk in a real browser, as an agent works it (docs/design.md §1 steps 1 and
4): a camera with the factory recovery address sends its QR code to the reset page, which
opens a support case; the lab's agent signs in to the staff portal, filters the queue,
opens the case and releases the security code naming the order; the signer mails it to
the order's customer (the lab inbox), and the camera accepts it.

Also what an attacker would try: a wrong order, a typed serial, a form without its CSRF
token, an agent calling an admin call, the API without a token, an oversized note, a bad
support request. One `camkey lab` runs for the module (the `lab` fixture of
test_lab_reset.py).
"""

from __future__ import annotations

import csv
import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from test_camera_pages import NEW_PASSWORD, submit
from test_lab_reset import Lab, init_lab_camera, lab, open_camera_qr  # noqa: F401 (fixture)

CUSTOMER = "customer@example.com"
CUSTOMER_HINT = "c***@***"
QR_SHOT = "/tmp/camkey-support-qr.png"
QR_SHOT_2 = "/tmp/camkey-support-qr-2.png"


# ---------------------------------------------------------------------------------------
# Helpers


def api(lab: Lab, method: str, path: str, body=None, token: str | None = None, raw: bytes | None = None):
    """Calls the vendor's JSON API; returns (status, parsed body)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(lab.vendor_url + path.lstrip("/"), data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except json.JSONDecodeError:
            return e.code, text.decode(errors="replace")


def staff_token(lab: Lab) -> str:
    staff = lab.manifest["vendor"]["staff"]
    st, b = api(lab, "POST", "/api/staff/login", {"username": staff["username"], "password": staff["password"]})
    assert st == 200, b
    return b["token"]


def orders(lab: Lab) -> dict[str, list[str]]:
    """Order number -> serials, from the lab's sample order file."""
    out: dict[str, list[str]] = {}
    with open(lab.manifest["orders"], newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["order_number"], []).append(row["serial"])
    return out


def order_of(lab: Lab, serial: str) -> tuple[str, str]:
    """(the order holding `serial`, another order that does not)."""
    all_orders = orders(lab)
    right = next(o for o, serials in all_orders.items() if serial in serials)
    wrong = next(o for o, serials in all_orders.items() if serial not in serials)
    return right, wrong


def customer_codes(lab: Lab) -> list[dict]:
    return [m for m in lab.messages() if CUSTOMER in m["to"] and re.search(r"^Code: ", m["text"], re.M)]


def sign_in_portal(page: Page, lab: Lab) -> None:
    staff = lab.manifest["vendor"]["staff"]
    resp = page.goto(lab.vendor_url + "staff")
    assert resp.status == 200
    expect(page.locator("#login-form")).to_be_visible()  # redirected to the sign-in page
    page.fill("#username", staff["username"])
    page.fill("#password", staff["password"])
    resp = submit(page, "#sign-in")
    assert resp.status == 200, page.content()
    expect(page.locator("h1")).to_have_text("Queue")
    expect(page.locator("#who")).to_have_text(staff["username"])


def factory_case(context, page: Page, lab: Lab, model: str, shot: str) -> tuple[object, str, int]:
    """A camera with the factory address asks for a code on the reset page: (camera,
    challenge, case number)."""
    cam = lab.camera(model)
    if not cam.device()["initialized"]:
        init_lab_camera(cam, None)
    challenge, url = open_camera_qr(page, cam, lab, shot)
    phone = context.new_page()
    phone.goto(url)
    with phone.expect_response(lambda r: r.url.endswith("/api/reset-requests")) as posted:
        phone.click("#send")
    body = posted.value.json()
    assert posted.value.status == 200, body
    assert body["outcome"] == "factory_address", body
    answer = phone.locator("#answer")
    expect(answer).to_be_visible()
    text = answer.inner_text()
    m = re.search(r"case (\d+)", text)
    assert m, text
    assert "order number" in text and "serial" in text, text
    assert int(m.group(1)) == body["case"]
    # The reset page sends the owner on to the Tech Support Form, challenge filled in.
    link = phone.locator("#support-link a")
    expect(link).to_be_visible()
    link.click()
    expect(phone.locator("h1")).to_have_text("Tech Support Form")
    expect(phone.locator("#challenge")).to_have_value(challenge)
    phone.close()
    return cam, challenge, body["case"]


# ---------------------------------------------------------------------------------------
# 1. The agent's path, end to end


def test_agent_releases_the_code_to_the_orders_customer(context, page: Page, lab: Lab):
    cam, challenge, case = factory_case(context, page, lab, "IPC4K15D", QR_SHOT)
    # The same challenge again: the same case, not a new one.
    st, b = api(lab, "POST", "/api/reset-requests", {"challenge": challenge})
    assert (st, b["case"]) == (200, case), b
    right, wrong = order_of(lab, cam.serial)

    agent = context.new_page()
    sign_in_portal(agent, lab)

    # The queue, filtered to new password-reset cases.
    agent.select_option("#kind", "password_reset")
    agent.select_option("#state", "new")
    submit(agent, "#filter")
    assert "kind=password_reset" in agent.url and "state=new" in agent.url, agent.url
    rows = agent.locator("#queue tr.case")
    expect(agent.locator(f'#queue tr.case[data-id="{case}"]')).to_have_count(1)
    for i in range(rows.count()):
        assert rows.nth(i).get_attribute("data-kind") == "password_reset"
        assert rows.nth(i).get_attribute("data-state") == "new"
    agent.select_option("#kind", "factory_service")
    submit(agent, "#filter")
    expect(agent.locator(f'#queue tr.case[data-id="{case}"]')).to_have_count(0)
    agent.goto(lab.vendor_url + "staff?kind=password_reset")

    # The case page: the serial comes from the camera's own challenge.
    with agent.expect_navigation():
        agent.click(f'#queue tr.case[data-id="{case}"] a.case-link')
    expect(agent.locator("h1")).to_have_text(f"Case {case}")
    expect(agent.locator("#serial")).to_contain_text(cam.serial)
    expect(agent.locator("#serial")).to_contain_text("from the camera's own challenge")
    expect(agent.locator("#orders")).to_contain_text(right)
    expect(agent.locator("#guide")).to_have_attribute("href", f"/guides/{cam.model}")
    assert agent.request.get(lab.vendor_url + f"guides/{cam.model}").status == 200

    # A wrong order is refused; nothing is mailed.
    before = len(customer_codes(lab))
    agent.fill("#order_number", wrong)
    agent.fill("#release-note", "caller named the wrong order")
    resp = submit(agent, "#release")
    assert resp.status == 409, resp.status
    expect(agent.locator("#error")).to_contain_text("not on that order")
    expect(agent.locator("#state")).to_have_text("new")

    # The right order: the signer mails the code to the order's customer.
    agent.fill("#order_number", right)
    agent.fill("#release-note", "order and serial checked on the phone")
    resp = submit(agent, "#release")
    assert resp.status == 200, agent.content()
    expect(agent.locator("#notice")).to_contain_text(CUSTOMER_HINT)
    expect(agent.locator("#state")).to_have_text("code_released")
    history = agent.locator("#history")
    expect(history).to_contain_text("release_refused")
    expect(history).to_contain_text("release_code")
    expect(history).to_contain_text(f"order {right}")
    assert "Code:" not in agent.content()

    mail = lab.wait_for_mail(
        lambda m: CUSTOMER in m["to"] and re.search(r"^Code: ", m["text"], re.M) and cam.serial in m["subject"] + m["text"],
        "released code mail",
    )
    assert len(customer_codes(lab)) == before + 1
    code = re.search(r"^Code: (\S+)\s*$", mail["text"], re.M).group(1)

    # The camera takes the code.
    page.goto(cam.url("/forgot/qr"))
    assert page.locator("#challenge").input_value().strip() == challenge
    page.fill("#code", code)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password2", NEW_PASSWORD)
    resp = submit(page)
    assert resp.status == 200, page.content()
    assert page.locator("#notice").inner_text().startswith("The password is reset")

    # The API shows the same case, audited.
    token = staff_token(lab)
    st, b = api(lab, "GET", f"/api/cases/{case}", token=token)
    assert st == 200 and b["state"] == "code_released", b
    actions = [e["action"] for e in b["history"]]
    assert actions[0] == "opened" and "release_refused" in actions and "release_code" in actions, actions
    who = {e["actor"] for e in b["history"] if e["action"].startswith("release")}
    assert who == {lab.manifest["vendor"]["staff"]["username"]}, who


# ---------------------------------------------------------------------------------------
# 2. What an attacker tries


def test_api_release_ignores_a_typed_serial_and_refuses_wrong_orders(context, page: Page, lab: Lab):
    cam = lab.camera("IPC4K15")
    other = lab.camera("IPC4T8")
    if not cam.device()["initialized"]:
        init_lab_camera(cam, None)
    challenge, _ = open_camera_qr(page, cam, lab, QR_SHOT_2)
    right, _ = order_of(lab, cam.serial)
    other_order = next(o for o, s in orders(lab).items() if other.serial in s and cam.serial not in s)

    # The requester types another camera's serial and order: the challenge's serial counts.
    st, b = api(lab, "POST", "/api/support-requests", {
        "name": "Mallory", "email": "mallory@example.com", "order_number": other_order,
        "serial": other.serial, "model": "IPC4T8", "kind": "password_reset",
        "description": "please", "challenge": challenge,
    })
    assert st == 200, b
    case = b["case"]
    token = staff_token(lab)
    st, view = api(lab, "GET", f"/api/cases/{case}", token=token)
    assert st == 200 and view["serial"] == cam.serial and view["serial_from_challenge"], view

    # The order the requester typed holds their serial, not the challenge's: refused.
    before = len(customer_codes(lab))
    st, b = api(lab, "POST", f"/api/cases/{case}/release-code", {"order_number": other_order, "note": ""}, token)
    assert (st, b["error"]["code"]) == (409, "not_on_order"), b
    st, b = api(lab, "POST", f"/api/cases/{case}/release-code", {"order_number": "NO-SUCH-ORDER", "note": ""}, token)
    assert (st, b["error"]["code"]) == (409, "not_on_order"), b
    # An oversized note: refused, nothing released or recorded.
    st, b = api(lab, "POST", f"/api/cases/{case}/release-code", {"order_number": right, "note": "x" * 5000}, token)
    assert st == 413, b
    st, b = api(lab, "POST", f"/api/cases/{case}/notes", {"note": "y" * 20_000}, token)
    assert st == 413, b
    st, view = api(lab, "GET", f"/api/cases/{case}", token=token)
    assert view["state"] == "new" and [e["action"] for e in view["history"]].count("note") == 0, view
    assert len(customer_codes(lab)) == before

    # The right order through the API.
    st, b = api(lab, "POST", f"/api/cases/{case}/release-code", {"order_number": right, "note": "checked"}, token)
    assert (st, b["hint"]) == (200, CUSTOMER_HINT), b
    lab.wait_for_mail(lambda m: len(customer_codes(lab)) > before, "released code")


def test_unauthenticated_and_agent_calls_are_refused(lab: Lab):
    assert api(lab, "GET", "/api/cases")[0] == 401
    assert api(lab, "GET", "/api/cases/1")[0] == 401
    assert api(lab, "GET", "/api/cases", token="0" * 64)[0] == 401
    assert api(lab, "POST", "/api/cases/1/release-code", {"order_number": "LAB-1001", "note": ""})[0] == 401
    st, b = api(lab, "POST", "/api/staff/login", {"username": "agent", "password": "wrong password!"})
    assert st == 401, b
    token = staff_token(lab)
    # An agent is not an admin.
    st, b = api(lab, "POST", "/api/staff", {"username": "eve", "role": "admin"}, token)
    assert (st, b["error"]["code"]) == (403, "forbidden"), b
    assert api(lab, "GET", "/api/audit", token=token)[0] == 403
    st, _ = api(lab, "POST", "/api/staff/login", {"username": "eve", "password": "x" * 12})
    assert st == 401


def test_portal_forms_need_the_csrf_token(context, page: Page, lab: Lab):
    token = staff_token(lab)
    st, b = api(lab, "POST", "/api/cases", {"kind": "factory_service", "reason": "lost_password",
                                           "name": "Owner", "email": "owner2@example.com",
                                           "model": "IPC4PTZ25", "description": "lost password"}, token)
    assert st == 200, b
    case = b["case"]
    sign_in_portal(page, lab)
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["camkey_staff"]["httpOnly"] and cookies["camkey_staff"]["sameSite"] == "Strict"
    # A forged form post (the session cookie, no CSRF token): refused, nothing changed.
    r = context.request.post(lab.vendor_url + f"staff/cases/{case}/note", form={"note": "forged"})
    assert r.status == 403, r.text()
    r = context.request.post(lab.vendor_url + f"staff/cases/{case}/state", form={"state": "closed", "csrf": "0" * 64})
    assert r.status == 403, r.text()
    st, view = api(lab, "GET", f"/api/cases/{case}", token=token)
    assert view["state"] == "new" and all(e["action"] != "note" for e in view["history"]), view

    # Through the page (with its token): a note, and the fee flow.
    page.goto(lab.vendor_url + f"staff/cases/{case}")
    expect(page.locator("#fee")).to_contain_text("a fee applies")
    page.fill("#note", "owner called, camera is a PTZ")
    submit(page, "#add-note")
    expect(page.locator("#history")).to_contain_text("owner called")
    page.fill("#fee-amount", "49.00")
    resp = submit(page, "#propose-fee")
    assert resp.status == 200, page.content()
    expect(page.locator("#state")).to_have_text("fee_proposed")
    mail = lab.wait_for_mail(lambda m: "owner2@example.com" in m["to"] and "fee" in m["subject"], "fee mail")
    link = re.search(r"(http://\S+/fees/[0-9a-f]{64})", mail["text"]).group(1)
    assert "owner called" not in json.dumps(mail), "an internal note was mailed"

    # Opening the link (as a mail scanner would) approves nothing; the button does.
    owner = context.new_page()
    resp = owner.goto(link)
    assert resp.status == 200
    expect(owner.locator("#fee")).to_have_text("49.00 EUR")
    expect(owner.locator("#guide")).to_have_attribute("href", "/guides/IPC4PTZ25")
    with owner.expect_navigation():
        owner.click("#guide")
    assert owner.url.endswith("/guides/IPC4PTZ25"), owner.url
    owner.go_back()
    assert api(lab, "GET", f"/api/cases/{case}", token=token)[1]["state"] == "fee_proposed"
    resp = submit(owner, "#approve")
    assert resp.status == 200
    expect(owner.locator("#answer")).to_contain_text("approved")
    st, view = api(lab, "GET", f"/api/cases/{case}", token=token)
    assert view["state"] == "fee_approved", view
    assert any(e["actor"] == "owner" and e["action"] == "fee_approved" for e in view["history"]), view


def test_support_form_validates_every_field(page: Page, lab: Lab):
    token = staff_token(lab)
    count = len(api(lab, "GET", "/api/cases", token=token)[1])
    good = {"name": "Ann Owner", "email": "ann@example.com", "order_number": "LAB-1001",
            "serial": "IPC4K15-LAB0001", "model": "IPC4K15", "kind": "factory_service",
            "reason": "hardware_fault", "description": "the image is dark", "challenge": ""}
    bad = [
        ({"email": "not an address"}, "email"),
        ({"name": ""}, "name"),
        ({"kind": "refund"}, "kind"),
        ({"order_number": "A" * 41}, "order_number"),
        ({"serial": "bad serial!"}, "serial"),
        ({"model": "IPC0"}, "model"),
        ({"challenge": "CK1NOTACHALLENGE"}, "challenge"),
    ]
    for change, field in bad:
        st, b = api(lab, "POST", "/api/support-requests", {**good, **change})
        assert st == 400 and b["error"]["message"].startswith(field), (change, b)
    st, b = api(lab, "POST", "/api/support-requests", {**good, "description": "z" * 4001})
    assert st == 413, b
    st, b = api(lab, "POST", "/api/support-requests", {**good, "extra": 1})
    assert st == 400, b
    st, b = api(lab, "POST", "/api/support-requests", raw=b"{not json")
    assert st == 400, b
    assert len(api(lab, "GET", "/api/cases", token=token)[1]) == count

    # The page works without script.
    page.goto(lab.vendor_url + "support")
    page.select_option("#kind", "factory_service")
    page.select_option("#reason", "hardware_fault")
    page.fill("#name", "Ann Owner")
    page.fill("#email", "bad")
    page.evaluate("document.getElementById('email').type = 'text'")
    resp = submit(page)
    assert resp.status == 400
    expect(page.locator("#error")).to_contain_text("email")
    expect(page.locator("#name")).to_have_value("Ann Owner")
    page.fill("#email", "ann@example.com")
    resp = submit(page)
    assert resp.status == 200, page.content()
    case = int(page.locator("#case-number").inner_text())
    st, view = api(lab, "GET", f"/api/cases/{case}", token=token)
    assert (view["kind"], view["reason"], view["source"]) == ("factory_service", "hardware_fault", "form"), view
    lab.wait_for_mail(lambda m: "ann@example.com" in m["to"] and f"case {case}" in m["subject"], "case mail")
