// Small helpers for every page: results as you type in the header search box, and the
// CSRF header for pages that write through the JSON API.
"use strict";

window.shopdb = {
  csrf() {
    const m = document.cookie.match(/(?:^|;\s*)(?:__Host-)?shopdb_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  },
  // fetch() for the JSON API with the login cookie and the CSRF header; resolves to the
  // envelope, rejects with its error message.
  async api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: { "X-CSRF-Token": this.csrf() } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    if (res.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("logged out");
    }
    const env = await res.json().catch(() => ({ success: false, error: { message: "unexpected answer (" + res.status + ")" } }));
    if (!env.success) {
      const err = new Error(env.error ? env.error.message : "request failed");
      err.status = res.status;
      err.details = env.error ? env.error.details : null;
      throw err;
    }
    return env;
  },
};

(function liveSearch() {
  const box = document.getElementById("search-box");
  const out = document.getElementById("search-results");
  if (!box || !out) return;
  let timer = null;
  let seq = 0;
  const hide = () => { out.hidden = true; box.setAttribute("aria-expanded", "false"); };
  const show = (hits, q) => {
    out.textContent = "";
    if (!hits.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.style.padding = ".4rem .6rem";
      p.textContent = "Nothing matches “" + q + "”";
      out.appendChild(p);
    }
    const groups = new Map();
    for (const h of hits) {
      if (!groups.has(h.type)) groups.set(h.type, []);
      groups.get(h.type).push(h);
    }
    for (const [type, list] of groups) {
      const h3 = document.createElement("h3");
      h3.textContent = type;
      out.appendChild(h3);
      for (const h of list) {
        const a = document.createElement("a");
        a.className = "search-hit";
        a.href = h.url;
        a.setAttribute("role", "option");
        a.textContent = h.title;
        if (h.subtitle) {
          const s = document.createElement("small");
          s.textContent = h.subtitle;
          a.appendChild(s);
        }
        out.appendChild(a);
      }
    }
    const all = document.createElement("a");
    all.href = "/search?q=" + encodeURIComponent(q);
    all.textContent = "All results for “" + q + "” →";
    out.appendChild(all);
    out.hidden = false;
    box.setAttribute("aria-expanded", "true");
  };
  box.addEventListener("input", () => {
    clearTimeout(timer);
    const q = box.value.trim();
    if (q.length < 2) { hide(); return; }
    timer = setTimeout(async () => {
      const mine = ++seq;
      try {
        const env = await shopdb.api("GET", "/api/search?limit=15&q=" + encodeURIComponent(q));
        if (mine === seq) show(env.data, q);
      } catch (e) { if (mine === seq) hide(); }
    }, 150);
  });
  box.addEventListener("keydown", (e) => {
    const links = Array.from(out.querySelectorAll("a"));
    if (out.hidden || !links.length) return;
    const i = links.indexOf(document.activeElement);
    if (e.key === "ArrowDown") { e.preventDefault(); (links[i + 1] || links[0]).focus(); }
    if (e.key === "Escape") hide();
  });
  out.addEventListener("keydown", (e) => {
    const links = Array.from(out.querySelectorAll("a"));
    const i = links.indexOf(document.activeElement);
    if (e.key === "ArrowDown") { e.preventDefault(); (links[i + 1] || links[0]).focus(); }
    if (e.key === "ArrowUp") { e.preventDefault(); (i <= 0 ? box : links[i - 1]).focus(); }
    if (e.key === "Escape") { hide(); box.focus(); }
  });
  document.addEventListener("click", (e) => { if (!out.contains(e.target) && e.target !== box) hide(); });
})();

// A form with data-confirm asks before it is sent (no inline handlers: the page's
// Content-Security-Policy allows script files only).
document.addEventListener("submit", (e) => {
  const question = e.target instanceof HTMLFormElement && e.target.dataset.confirm;
  if (question && !window.confirm(question)) e.preventDefault();
});

// The admin plugins page: a packed folder plugin uploaded, checked and installed.
(function pluginUpload() {
  const form = document.getElementById("plugin-upload");
  if (!form) return;
  const out = document.getElementById("plugin-upload-error");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = document.getElementById("plugin-file").files[0];
    if (!file) {
      out.textContent = "Choose a file first";
      return;
    }
    out.textContent = "";
    const res = await fetch("/api/plugins/upload", {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "Content-Type": "application/zip", "X-CSRF-Token": shopdb.csrf() },
    });
    const env = await res.json().catch(() => ({ success: false, error: { message: "unexpected answer (" + res.status + ")" } }));
    if (env.success) {
      location.href = "/admin/plugins?done=" + encodeURIComponent("Installed " + env.data.plugin + ": it is enabled");
    } else {
      const details = env.error.details && typeof env.error.details === "object" && !Array.isArray(env.error.details)
        ? Object.values(env.error.details).filter((v) => typeof v === "string") : [];
      out.textContent = details.length ? details.join("; ") : env.error.message;
    }
  });
})();
