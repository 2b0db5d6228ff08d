"use strict";
document.addEventListener("DOMContentLoaded", () => {
(function kiosk() {
  const params = new URLSearchParams(location.search);
  const url = "/api/notifications/kiosk" + (params.get("locationid") ? "?locationid=" + encodeURIComponent(params.get("locationid")) : "");
  const list = document.getElementById("kiosk-list");
  const render = (items) => {
    list.textContent = "";
    for (const n of items) {
      const div = document.createElement("div");
      div.className = "item " + n.severity;
      const h = document.createElement("h2");
      h.textContent = n.title;
      const p = document.createElement("p");
      p.textContent = n.message || "";
      const w = document.createElement("div");
      w.className = "when";
      w.textContent = (n.severity === "outage" ? "OUTAGE · " : n.severity === "warning" ? "Warning · " : "") + "from " + new Date(n.startsat).toLocaleString() + (n.endsat ? " until " + new Date(n.endsat).toLocaleString() : "");
      div.append(h, p, w);
      list.appendChild(div);
    }
    document.getElementById("kiosk-empty").hidden = items.length > 0;
  };
  const refresh = async () => {
    const err = document.getElementById("kiosk-error");
    try {
      const res = await fetch(url, { credentials: "same-origin" });
      const env = await res.json();
      if (!env.success) throw new Error(env.error.message);
      err.hidden = true;
      render(env.data);
    } catch (e) {
      err.hidden = false;
      err.textContent = e.message;
    }
  };
  const tick = () => { document.getElementById("clock").textContent = new Date().toLocaleString(); };
  refresh();
  tick();
  setInterval(refresh, 60000);
  setInterval(tick, 1000);
})();
});
