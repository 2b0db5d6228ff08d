"use strict";
document.addEventListener("DOMContentLoaded", () => {
(async function supplies() {
  const box = document.getElementById("supplies");
  const state = document.getElementById("supplies-state");
  const svg = document.getElementById("supply-bars");
  try {
    const env = await shopdb.api("GET", "/api/printers/" + box.dataset.printer + "/supplies");
    const r = env.data;
    if (r.stored) {
      const first = r.supplies[0];
      const from = first.source === "zabbix" ? "from Zabbix" : "reported by a script";
      state.textContent = "Last known levels, " + from + ", stored " + new Date(first.readat).toLocaleString() + ". Now: " + (r.message || r.status);
    } else if (r.status !== "ok") {
      state.textContent = r.message || r.status; state.className = "error"; return;
    } else {
      state.textContent = r.supplies.length ? "From Zabbix host " + r.zabbixhost + ", checked " + r.checkedat + "." : "Zabbix has no supply levels for " + r.zabbixhost + ".";
    }
    const ns = "http://www.w3.org/2000/svg";
    r.supplies.forEach((s, i) => {
      const y = i * 26;
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", 0); label.setAttribute("y", y + 16); label.textContent = s.name;
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", 150); bar.setAttribute("y", y + 4); bar.setAttribute("height", 16);
      bar.setAttribute("width", Math.max(1, Math.min(100, s.level)) * 1.5);
      if (s.low) bar.style.fill = "#b42318";
      const value = document.createElementNS(ns, "text");
      value.setAttribute("x", 156 + Math.min(100, s.level) * 1.5); value.setAttribute("y", y + 16);
      value.textContent = Math.round(s.level) + "%" + (s.low ? " low" : "");
      svg.append(label, bar, value);
    });
    svg.setAttribute("viewBox", "0 0 340 " + r.supplies.length * 26);
    svg.hidden = r.supplies.length === 0;
  } catch (e) { state.textContent = "Supply levels could not be read: " + e.message; state.className = "error"; }
})();
});
