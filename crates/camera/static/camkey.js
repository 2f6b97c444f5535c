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
