// Progressive help for the setup guide; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  const setup = document.getElementById("setup");
  if (!setup) return;
  const staticFields = document.getElementById("static-fields");
  const sync = () => {
    const mode = setup.querySelector("input[name=network_mode]:checked");
    staticFields.hidden = !(mode && mode.value === "static");
  };
  setup.querySelectorAll("input[name=network_mode]").forEach((r) => r.addEventListener("change", sync));
  sync();
  setup.addEventListener("submit", (ev) => {
    document.getElementById("browser_time_ms").value = String(Date.now());
    const a = document.getElementById("password"), b = document.getElementById("password2");
    if (a.value !== b.value) {
      ev.preventDefault();
      b.setCustomValidity("The two passwords differ: type the same password twice.");
      b.reportValidity();
      b.addEventListener("input", () => b.setCustomValidity(""), { once: true });
    }
  });
});

// Copy buttons: <button data-copy="ID"> copies the text of element ID.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button[data-copy]").forEach((b) => {
    b.addEventListener("click", async () => {
      const el = document.getElementById(b.dataset.copy);
      const text = el.value || el.textContent;
      try {
        await navigator.clipboard.writeText(text.trim());
        b.textContent = "Copied";
      } catch (e) {
        el.select();
        b.textContent = "Press Ctrl+C to copy";
      }
    });
  });
  // Every form with a new password checks the two entries agree.
  document.querySelectorAll("form").forEach((f) => {
    const a = f.querySelector("#new_password"), b = f.querySelector("#new_password2");
    if (!a || !b) return;
    f.addEventListener("submit", (ev) => {
      if (a.value !== b.value) {
        ev.preventDefault();
        b.setCustomValidity("The two passwords differ: type the same password twice.");
        b.reportValidity();
        b.addEventListener("input", () => b.setCustomValidity(""), { once: true });
      }
    });
  });
});
