// Floor map: click a marker to open the asset; editors drag it to set the asset's own
// position, saved through PUT /api/assets/{id} (with the version it was drawn with).
"use strict";

(function floorMap() {
  // Legend colours come from the data; set through the DOM (the CSP forbids style attributes).
  for (const swatch of document.querySelectorAll(".legend i[data-colour]")) swatch.style.background = swatch.dataset.colour;
  const svg = document.getElementById("floor-map");
  if (!svg) return;
  const status = document.getElementById("map-status");
  const say = (text, bad) => { if (status) { status.textContent = text; status.className = bad ? "error" : "muted"; } };
  const image = document.getElementById("floor-image");
  if (image) {
    // Size the drawing to the image so map coordinates are image pixels.
    const probe = new Image();
    probe.onload = () => {
      svg.setAttribute("viewBox", "0 0 " + probe.naturalWidth + " " + probe.naturalHeight);
      image.setAttribute("width", probe.naturalWidth);
      image.setAttribute("height", probe.naturalHeight);
    };
    probe.src = image.getAttribute("href");
  }
  const canMove = svg.dataset.canMove === "true";
  const point = (evt) => {
    const p = svg.createSVGPoint();
    p.x = evt.clientX;
    p.y = evt.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  };
  let drag = null;
  svg.addEventListener("pointerdown", (e) => {
    const g = e.target.closest(".marker");
    if (!g) return;
    const start = point(e);
    const m = g.transform.baseVal.consolidate().matrix;
    drag = { g, start, x0: m.e, y0: m.f, moved: false, pointer: e.pointerId };
    if (canMove) g.setPointerCapture(e.pointerId);
  });
  svg.addEventListener("pointermove", (e) => {
    if (!drag || !canMove) return;
    const p = point(e);
    const dx = p.x - drag.start.x, dy = p.y - drag.start.y;
    if (!drag.moved && Math.hypot(dx, dy) < 3) return;
    drag.moved = true;
    drag.g.classList.add("dragging");
    drag.g.setAttribute("transform", "translate(" + (drag.x0 + dx) + "," + (drag.y0 + dy) + ")");
  });
  const finish = async (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    d.g.classList.remove("dragging");
    if (!d.moved) { location.href = "/assets/" + d.g.dataset.id; return; }
    const m = d.g.transform.baseVal.consolidate().matrix;
    const x = Math.round(m.e * 10) / 10, y = Math.round(m.f * 10) / 10;
    say("saving…");
    try {
      const env = await shopdb.api("PUT", "/api/assets/" + d.g.dataset.id, { mapx: x, mapy: y, version: Number(d.g.dataset.version) });
      d.g.dataset.version = env.data.version;
      d.g.dataset.source = "self";
      d.g.classList.remove("inherited");
      say("saved");
    } catch (err) {
      d.g.setAttribute("transform", "translate(" + d.x0 + "," + d.y0 + ")");
      say("not saved: " + err.message, true);
    }
  };
  svg.addEventListener("pointerup", finish);
  svg.addEventListener("pointercancel", () => { if (drag) { drag.g.setAttribute("transform", "translate(" + drag.x0 + "," + drag.y0 + ")"); drag = null; } });
  svg.addEventListener("keydown", (e) => {
    const g = e.target.closest(".marker");
    if (g && e.key === "Enter") location.href = "/assets/" + g.dataset.id;
  });
  const upload = document.getElementById("floorplan-form");
  if (upload) {
    upload.addEventListener("submit", async (e) => {
      e.preventDefault();
      const file = document.getElementById("floorplan-file").files[0];
      if (!file) { say("choose an image first", true); return; }
      const res = await fetch("/api/locations/" + upload.dataset.location + "/floorplan", {
        method: "PUT", credentials: "same-origin", body: file,
        headers: { "Content-Type": file.type, "X-CSRF-Token": shopdb.csrf() },
      });
      if (res.ok) { location.reload(); } else {
        const env = await res.json().catch(() => null);
        say("upload refused: " + (env && env.error ? env.error.message : res.status), true);
      }
    });
  }
})();
