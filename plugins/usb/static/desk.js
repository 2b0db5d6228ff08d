"use strict";
document.addEventListener("DOMContentLoaded", () => {
(function desk() {
  const $ = (id) => document.getElementById(id);
  let device = null;
  const say = (text, bad) => {
    const box = $("desk-message");
    box.textContent = text;
    box.className = text ? (bad ? "error" : "notice") : "";
    box.hidden = !text;
  };
  const fieldErrors = (err) => err.details && typeof err.details === "object" ? Object.entries(err.details).map(([k, v]) => k + " " + v).join("; ") : "";
  const show = (d) => {
    device = d;
    $("device").hidden = false;
    $("device-title").textContent = d.assetnumber + (d.name ? " — " + d.name : "") + " (serial " + (d.serialnumber || "?") + ")";
    const out = d.checkout;
    $("device-state").textContent = out
      ? "checked out to " + out.checkedoutto + (out.badge ? " (badge " + out.badge + ")" : "") + ", due " + new Date(out.dueat).toLocaleString()
      : "available";
    $("checkout-form").hidden = !!out;
    $("checkin-form").hidden = !out;
    if (!out) {
      const due = new Date(Date.now() + 7 * 86400000);
      due.setMinutes(due.getMinutes() - due.getTimezoneOffset());
      $("dueat").value = due.toISOString().slice(0, 16);
      $("checkedoutto").focus();
    } else {
      $("condition").focus();
    }
  };
  const lookup = async (serial) => {
    try {
      const env = await shopdb.api("GET", "/api/usb/lookup?serial=" + encodeURIComponent(serial));
      say("");
      show(env.data);
    } catch (e) {
      $("device").hidden = true;
      say(e.message, true);
    }
  };
  $("lookup-form").addEventListener("submit", (e) => { e.preventDefault(); lookup($("serial").value.trim()); });
  $("checkout-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { checkedoutto: $("checkedoutto").value.trim(), dueat: new Date($("dueat").value).toISOString() };
    if ($("badge").value.trim()) body.badge = $("badge").value.trim();
    if ($("purpose").value.trim()) body.purpose = $("purpose").value.trim();
    try {
      await shopdb.api("POST", "/api/usb/" + device.assetid + "/checkout", body);
      say("Checked out to " + body.checkedoutto + ".");
      lookup(device.serialnumber);
    } catch (err) { say(err.message + (fieldErrors(err) ? ": " + fieldErrors(err) : ""), true); }
  });
  $("checkin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    if ($("condition").value.trim()) body.condition = $("condition").value.trim();
    try {
      await shopdb.api("POST", "/api/usb/" + device.assetid + "/checkin", body);
      say("Checked in.");
      $("condition").value = "";
      lookup(device.serialnumber);
    } catch (err) { say(err.message, true); }
  });
})();
});
