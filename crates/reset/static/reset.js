// Reads the challenge from the URL fragment (never sent to the server) and asks for the
// code with one button. The page works without this script through its form.
document.addEventListener("DOMContentLoaded", () => {
  // The Tech Support Form: the reset page sends the owner here with the challenge in the
  // fragment (never sent to a server until the owner submits the form).
  const support = document.getElementById("support-form");
  if (support) {
    let frag = window.location.hash.slice(1) || "";
    try {
      frag = decodeURIComponent(frag);
    } catch (e) {
      /* keep the raw text */
    }
    const ch = document.getElementById("challenge");
    if (frag && ch && !ch.value) ch.value = frag;
    return;
  }
  const form = document.getElementById("reset-form");
  if (!form) return;
  const field = document.getElementById("challenge");
  const answer = document.getElementById("answer");
  // A damaged link must not stop the page: fall back to the raw fragment.
  let hash = window.location.hash.slice(1) || "";
  try {
    hash = decodeURIComponent(hash);
  } catch (e) {
    /* keep the raw text: the service will say if it cannot read it */
  }
  if (hash) {
    field.value = hash;
    document.getElementById("from-camera").hidden = false;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("send");
    button.disabled = true;
    try {
      const r = await fetch("/api/reset-requests", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ challenge: field.value }),
      });
      const body = await r.json();
      answer.textContent = body.message || (body.error && body.error.message) || "Something went wrong; please try again.";
      answer.className = "answer " + (body.outcome || "error");
      const link = document.getElementById("support-link");
      if (link) {
        link.hidden = body.outcome !== "factory_address";
        link.querySelector("a").href = "/support#" + encodeURIComponent(field.value.trim());
      }
    } catch (e) {
      answer.textContent = "The reset service could not be reached. Please try again in a few minutes.";
      answer.className = "answer unavailable";
    }
    answer.hidden = false;
    button.disabled = false;
  });
});
