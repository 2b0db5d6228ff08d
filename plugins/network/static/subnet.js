"use strict";
document.addEventListener("DOMContentLoaded", () => {
(async function addresses() {
  const box = document.getElementById("subnet-addresses");
  const usage = document.getElementById("subnet-usage");
  const table = document.getElementById("addresses");
  try {
    const env = await shopdb.api("GET", "/api/network/subnets/" + box.dataset.subnet + "/addresses");
    const d = env.data;
    usage.textContent = d.used + " addresses in use" + (d.size ? " of " + d.size : "") + ".";
    const body = table.querySelector("tbody");
    for (const a of d.addresses) {
      const tr = document.createElement("tr");
      const cells = [a.ipaddress, a.assetnumber, a.name || "", a.recordedin];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        if (i === 1) { const link = document.createElement("a"); link.href = "/assets/" + a.assetid; link.textContent = text; td.appendChild(link); }
        else td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    }
    table.hidden = d.addresses.length === 0;
  } catch (e) { usage.textContent = e.message; usage.className = "error"; }
})();
});
