"use strict";
document.addEventListener("DOMContentLoaded", () => {
(function stale() {
  const form = document.getElementById("stale-form");
  const days = document.getElementById("days");
  const load = async () => {
    const q = days.value === "" ? "" : "?days=" + encodeURIComponent(days.value);
    try {
      const env = await shopdb.api("GET", "/api/computers/stale" + q);
      const d = env.data;
      days.value = d.days;
      document.getElementById("stale-summary").textContent = d.computers.length + " PCs not seen for " + d.days + " days or more (never-seen PCs included).";
      const body = document.querySelector("#records tbody");
      body.textContent = "";
      for (const c of d.computers) {
        const tr = document.createElement("tr");
        tr.dataset.id = c.assetid;
        const host = document.createElement("td");
        const a = document.createElement("a");
        a.className = "record-link"; a.href = "/computers/" + c.assetid; a.textContent = c.hostname;
        host.appendChild(a);
        const num = document.createElement("td"); num.textContent = c.assetnumber;
        const seen = document.createElement("td"); seen.textContent = c.lastseen ? c.lastseen + (c.lastseenby ? " by " + c.lastseenby : "") : "never";
        tr.append(host, num, seen);
        body.appendChild(tr);
      }
    } catch (e) { document.getElementById("stale-summary").textContent = e.message; }
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  load();
})();
});
