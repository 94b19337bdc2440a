// The explore map: a deep-zoom tile pyramid drawn on a <canvas>, with pan, zoom and a click
// that opens the image under the pointer.  No libraries; the tiles come from /api/map/tiles.
(function () {
  "use strict";
  const view = document.querySelector("[data-map]");
  if (!view) return;
  const facts = JSON.parse(view.dataset.map);
  const canvas = view.querySelector("canvas");
  const status = view.querySelector(".map-status");
  const context = canvas.getContext("2d");
  const deepest = facts.levels - 1;
  const tiles = new Map(); // "level/x/y" -> {image, ready}
  let scale = 1; // screen pixels per map pixel at the deepest level
  let left = 0, top = 0; // screen position of the map's corner
  let minScale = 1, hover = null, pending = false;

  function tileUrl(level, x, y) {
    return facts.tiles.replace("{level}", level).replace("{x}", x).replace("{y}", y);
  }

  function tile(level, x, y) {
    const key = level + "/" + x + "/" + y;
    let found = tiles.get(key);
    if (!found) {
      found = { image: new Image(), ready: false, failed: false };
      found.image.onload = () => { found.ready = true; redraw(); };
      found.image.onerror = () => { found.failed = true; redraw(); };
      found.image.src = tileUrl(level, x, y);
      tiles.set(key, found);
    }
    return found;
  }

  function levelFor(s) {
    return Math.max(0, Math.min(deepest, deepest + Math.ceil(Math.log2(s) - 1e-9)));
  }

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(canvas.clientWidth * ratio);
    canvas.height = Math.round(canvas.clientHeight * ratio);
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    redraw();
  }

  function fit() {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    scale = Math.min(w / facts.width, h / facts.height) * 0.96;
    minScale = scale / 2;
    left = (w - facts.width * scale) / 2;
    top = (h - facts.height * scale) / 2;
    redraw();
  }

  // draws the tiles of one level that cross the view; returns whether all were ready
  function drawLevel(level, onlyReady) {
    const size = facts.tile * Math.pow(2, deepest - level) * scale; // a tile on screen
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const across = Math.ceil(facts.width / (facts.tile * Math.pow(2, deepest - level)));
    const down = Math.ceil(facts.height / (facts.tile * Math.pow(2, deepest - level)));
    const x0 = Math.max(0, Math.floor(-left / size)), x1 = Math.min(across - 1, Math.floor((w - left) / size));
    const y0 = Math.max(0, Math.floor(-top / size)), y1 = Math.min(down - 1, Math.floor((h - top) / size));
    let all = true;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const found = onlyReady ? tiles.get(level + "/" + x + "/" + y) : tile(level, x, y);
        if (found && found.ready) {
          context.drawImage(found.image, left + x * size, top + y * size, size + 0.5, size + 0.5);
        } else if (!found || !found.failed) {
          all = false;
        }
      }
    }
    return all;
  }

  function draw() {
    pending = false;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    context.clearRect(0, 0, w, h);
    context.imageSmoothingEnabled = scale <= 1; // enlarged beyond the deepest level: whole pixels, crisp
    const level = levelFor(scale);
    drawLevel(0, false); // a coarse backdrop while the sharper tiles come
    for (let l = 1; l < level; l++) drawLevel(l, true);
    const complete = drawLevel(level, false);
    if (hover) {
      const cell = facts.cell * scale;
      context.strokeStyle = "#ffd43b";
      context.lineWidth = 2;
      context.strokeRect(left + hover.x * cell + 1, top + hover.y * cell + 1, cell - 2, cell - 2);
    }
    if (complete && !canvas.dataset.ready) {
      canvas.dataset.ready = "1";
      if (window.performance && performance.mark) performance.mark("map-ready");
    }
    canvas.dataset.level = String(level);
    canvas.dataset.scale = scale.toFixed(4);
  }

  function redraw() {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(draw);
    }
  }

  function zoomAt(factor, sx, sy) {
    const next = Math.max(minScale, Math.min(8, scale * factor));
    left = sx - (sx - left) * (next / scale);
    top = sy - (sy - top) * (next / scale);
    scale = next;
    redraw();
  }

  function cellAt(sx, sy) {
    const x = Math.floor((sx - left) / (facts.cell * scale));
    const y = Math.floor((sy - top) / (facts.cell * scale));
    return x >= 0 && y >= 0 && x < facts.cols && y < facts.rows ? { x: x, y: y } : null;
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  async function open(cell) {
    if (!cell) return;
    const url = facts.at.replace("{x}", cell.x).replace("{y}", cell.y);
    const answer = await fetch(url, { headers: { Accept: "application/json" } });
    if (answer.ok) {
      window.location.href = (await answer.json()).links.page;
    } else {
      status.textContent = "No image in this cell.";
    }
  }

  // pointers: one drags, two pinch; a press that barely moves is a click
  const pointers = new Map();
  let moved = 0, pinch = 0;
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, point(event));
    moved = 0;
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", (event) => {
    const now = point(event);
    if (!pointers.has(event.pointerId)) {
      const cell = cellAt(now[0], now[1]);
      if (JSON.stringify(cell) !== JSON.stringify(hover)) { hover = cell; redraw(); }
      return;
    }
    const before = pointers.get(event.pointerId);
    pointers.set(event.pointerId, now);
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const distance = Math.hypot(a[0] - b[0], a[1] - b[1]);
      if (pinch) zoomAt(distance / pinch, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
      pinch = distance;
      moved += 10;
      return;
    }
    left += now[0] - before[0];
    top += now[1] - before[1];
    moved += Math.abs(now[0] - before[0]) + Math.abs(now[1] - before[1]);
    redraw();
  });
  function release(event) {
    const was = pointers.get(event.pointerId);
    pointers.delete(event.pointerId);
    if (pointers.size < 2) pinch = 0;
    if (!pointers.size) canvas.classList.remove("dragging");
    if (event.type === "pointerup" && was && moved < 6 && !pointers.size) open(cellAt(was[0], was[1]));
  }
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointerleave", () => { if (hover) { hover = null; redraw(); } });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [sx, sy] = point(event);
    zoomAt(Math.pow(2, -event.deltaY / 300), sx, sy);
  }, { passive: false });
  canvas.addEventListener("keydown", (event) => {
    const w = canvas.clientWidth, h = canvas.clientHeight, step = 80;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[event.key]) {
      left += moves[event.key][0];
      top += moves[event.key][1];
      redraw();
    } else if (event.key === "+" || event.key === "=") {
      zoomAt(1.5, w / 2, h / 2);
    } else if (event.key === "-") {
      zoomAt(1 / 1.5, w / 2, h / 2);
    } else if (event.key === "Enter") {
      open(cellAt(w / 2, h / 2));
    } else {
      return;
    }
    event.preventDefault();
  });
  document.querySelectorAll("[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const w = canvas.clientWidth, h = canvas.clientHeight;
      const how = button.dataset.zoom;
      if (how === "fit") fit();
      else zoomAt(how === "in" ? 2 : 0.5, w / 2, h / 2);
    });
  });

  // ?image=ID: start zoomed in on that image
  async function focusOn(id) {
    const answer = await fetch("/api/map/images/" + encodeURIComponent(id));
    if (!answer.ok) { status.textContent = "That image is not on the map yet."; return; }
    const cell = await answer.json();
    const w = canvas.clientWidth, h = canvas.clientHeight;
    scale = Math.max(scale, 2 / Math.max(1, facts.cell / 64));
    left = w / 2 - (cell.x + 0.5) * facts.cell * scale;
    top = h / 2 - (cell.y + 0.5) * facts.cell * scale;
    hover = { x: cell.x, y: cell.y };
    redraw();
  }

  window.addEventListener("resize", resize);
  resize();
  fit();
  const wanted = new URLSearchParams(window.location.search).get("image");
  if (wanted) focusOn(wanted);
})();
