// The NVR page: sign in, list channels, act on them, over the JSON API (docs/nvr.md).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const say = (text) => { $("message").textContent = text; };
  const token = () => sessionStorage.getItem("nvr-token");
  async function call(method, path, body) {
    const opts = { method, headers: { "Authorization": "Bearer " + (token() || "") } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch("/api" + path, opts);
    if (!r.ok) {
      let m = "The NVR refused (" + r.status + ").";
      let code = "";
      try { const e = (await r.json()).error; m = e.message; code = e.code; } catch (e) { /* keep the status */ }
      // Only an expired or missing sign-in ends the session; a wrong password typed to
      // reveal a camera's password does not.
      if (code === "unauthorized") { sessionStorage.removeItem("nvr-token"); show(); }
      throw new Error(m);
    }
    return r;
  }
  const words = {
    adopted: "Recording",
    adopting: "Setting up",
    awaiting_approval: "A different camera: waiting for your approval",
    auth_failed: "Cannot sign in: reset the camera or enter its password",
    offline: "Offline",
  };
  function button(label, action) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", () => action().catch((e) => say(e.message)));
    return b;
  }
  async function snapshot(port, img) {
    try {
      const blob = await (await call("GET", "/channels/" + port + "/snapshot")).blob();
      const reader = new FileReader();
      reader.onload = () => { img.src = reader.result; };
      reader.readAsDataURL(blob);
    } catch (e) { img.alt = e.message; }
  }
  async function load() {
    const rows = $("rows");
    const list = await (await call("GET", "/channels")).json();
    rows.replaceChildren();
    for (const ch of list) {
      const tr = document.createElement("tr");
      const cell = () => tr.appendChild(document.createElement("td"));
      cell().textContent = ch.port;
      cell().textContent = (ch.model || "") + " " + (ch.serial || "—");
      const st = cell();
      st.textContent = words[ch.state] || ch.state;
      const note = document.createElement("div");
      note.className = "note";
      note.textContent = ch.note;
      st.appendChild(note);
      const pic = cell();
      if (ch.state === "adopted") {
        const img = document.createElement("img");
        img.className = "snap";
        img.alt = "snapshot of port " + ch.port;
        pic.appendChild(img);
        snapshot(ch.port, img);
      }
      const act = cell();
      act.appendChild(button("Reveal password", async () => {
        const password = prompt("Your NVR password, to reveal this camera's password:");
        if (!password) return;
        const r = await (await call("POST", "/channels/" + ch.port + "/reveal", { password })).json();
        say("Port " + ch.port + ": user " + r.username + ", password " + r.password);
      }));
      if (ch.state === "awaiting_approval") {
        act.appendChild(button("Approve this camera", async () => {
          await call("POST", "/channels/" + ch.port + "/approve");
          say("Approved."); await load();
        }));
      }
      if (ch.state === "auth_failed") {
        act.appendChild(button("Enter its password", async () => {
          const password = prompt("The camera's admin password:");
          if (!password) return;
          await call("POST", "/channels/" + ch.port + "/password", { password });
          say("Signed in."); await load();
        }));
      }
      rows.appendChild(tr);
    }
  }
  function show() {
    const signed = !!token();
    $("signin").hidden = signed;
    $("channels").hidden = !signed;
    if (signed) load().catch((e) => say(e.message));
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try {
        const r = await (await call("POST", "/login", { username: f.get("username"), password: f.get("password") })).json();
        sessionStorage.setItem("nvr-token", r.token);
        say(""); show();
      } catch (e) { say(e.message); }
    });
    $("export").addEventListener("click", async () => {
      const password = prompt("Your NVR password, to export every camera's password:");
      if (!password) return;
      try {
        const list = await (await call("POST", "/export", { password })).json();
        const blob = new Blob([JSON.stringify(list, null, 2)], { type: "application/json" });
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = "nvr-camera-passwords.json";
        a.click();
        URL.revokeObjectURL(a.href);
        say("Exported the passwords of " + list.length + " camera(s). Keep the file somewhere safe.");
      } catch (e) { say(e.message); }
    });
    $("code-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try {
        await call("POST", "/ports/" + f.get("port") + "/setup-code", { code: f.get("code") });
        say("Setup code saved for port " + f.get("port") + "."); await load();
      } catch (e) { say(e.message); }
    });
    show();
    setInterval(() => { if (token()) load().catch(() => {}); }, 10000);
  });
})();
