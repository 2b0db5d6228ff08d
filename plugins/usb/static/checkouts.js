"use strict";
document.addEventListener("DOMContentLoaded", () => {
(function history() {
  const $ = (id) => document.getElementById(id);
  let page = 1;
  const when = (t) => t ? new Date(t).toLocaleString() : "";
  const cell = (text) => { const td = document.createElement("td"); td.textContent = text || ""; return td; };
  const load = async () => {
    const params = new URLSearchParams({ page: String(page), per_page: "50" });
    const q = $("q").value.trim();
    if (q) params.set("q", q);
    if ($("stillout").checked) params.set("checkedinat", "null");
    try {
      const env = await shopdb.api("GET", "/api/usb/checkouts?" + params.toString());
      const meta = env.meta;
      $("history-summary").textContent = meta.total + ($("stillout").checked ? " loans still out" : " loans") + ", newest first.";
      $("pageinfo").textContent = meta.pages > 1 ? "page " + meta.page + " of " + meta.pages : "";
      $("newer").disabled = meta.page <= 1;
      $("older").disabled = meta.page >= meta.pages;
      const body = document.querySelector("#records tbody");
      body.textContent = "";
      const now = Date.now();
      for (const c of env.data) {
        const tr = document.createElement("tr");
        tr.dataset.id = c.checkoutid;
        const drive = document.createElement("td");
        const a = document.createElement("a");
        a.className = "record-link"; a.href = "/usb/" + c.assetid;
        a.textContent = c.assetnumber + (c.assetname ? " — " + c.assetname : "");
        drive.appendChild(a);
        const due = cell(when(c.dueat));
        if (!c.checkedinat && c.dueat && new Date(c.dueat).getTime() < now) {
          due.className = "error";
          due.textContent += " (overdue)";
        }
        tr.append(drive, cell(c.checkedoutto), cell(c.badge), cell(c.purpose), cell(when(c.checkedoutat)), due,
          cell(c.checkedinat ? when(c.checkedinat) + (c.checkedinby ? " by " + c.checkedinby : "") : "still out"), cell(c.returncondition));
        body.appendChild(tr);
      }
    } catch (e) { $("history-summary").textContent = e.message; }
  };
  $("history-form").addEventListener("submit", (e) => { e.preventDefault(); page = 1; load(); });
  $("newer").addEventListener("click", () => { page -= 1; load(); });
  $("older").addEventListener("click", () => { page += 1; load(); });
  load();
})();
});
