// The latent explorer (a Streamlit v2 component, mounted by ui/latent_map/explorer.py). Python prepends
// `const SOURCES = {nn, drawing, views}`: the kernel module (ui/latent_map/nn.js), the drawing's preprocessing
// (drawing.js) and the draw/sweep/path views (views.js), each imported once per page as its own ES module.
//
// Every mount's `data` is one envelope: 8 bytes (little-endian length n), n bytes of JSON, then 8-aligned arrays
// named in the JSON. A "hold" mount carries a run's exported weights and the held-out digits; it is sent once
// per model per session (Streamlit's message cache answers later reruns with a reference) and registers them
// here. The views ("map", "draw", "sweep", "path") carry only their small data and wait for what they name.

const LAB = (globalThis.__aeLab ??= { held: new Map(), waiting: new Map(), modules: new Map(), timings: {} });
export const PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6",
  "#9d755d", "#bab0ac"];  // Vega's tableau10: a digit has the same colour as on the server's charts
const DTYPES = { f4: Float32Array, u1: Uint8Array, i4: Int32Array };

function lib(name) {
  const src = SOURCES[name], id = `${name}:${src.length}`;
  if (!LAB.modules.has(id)) {
    const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
    LAB.modules.set(id, import(url));
  }
  return LAB.modules.get(id);
}

export function unpack(bytes) {
  const u = new Uint8Array(bytes);  // a copy: aligned at 0, so the float views below are legal
  const n = Number(new DataView(u.buffer).getBigUint64(0, true));
  const meta = JSON.parse(new TextDecoder().decode(u.subarray(8, 8 + n)));
  const base = 8 + n, arrays = {};
  for (const [name, a] of Object.entries(meta.arrays || {})) {
    arrays[name] = a.dtype === "bytes" ? u.subarray(base + a.offset, base + a.offset + a.length)
      : new DTYPES[a.dtype](u.buffer, base + a.offset, a.length / DTYPES[a.dtype].BYTES_PER_ELEMENT);
  }
  return { meta, arrays };
}

function hold(name, value) {
  LAB.held.set(name, value);
  for (const resolve of LAB.waiting.get(name) || []) resolve(value);
  LAB.waiting.delete(name);
  if (LAB.held.size > 6) LAB.held.delete(LAB.held.keys().next().value);  // a few runs at most stay in memory
}

function held(name) {
  if (LAB.held.has(name)) return Promise.resolve(LAB.held.get(name));
  return new Promise((resolve) => LAB.waiting.set(name, [...(LAB.waiting.get(name) || []), resolve]));
}

// ---- painting ------------------------------------------------------------------------------------------------
export function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

// A C×H×W image in [0, 1] (C-major; 1 or 3 channels) painted into a canvas of H×W pixels with ImageData.
export function paint(canvas, px, shape) {
  const [c, h, w] = shape, ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h), d = img.data;
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) d[4 * i + k] = Math.round(255 * px[(c === 3 ? k : 0) * h * w + i]);
    d[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export function imageCanvas(parent, shape, cls = "ael-img") {
  const c = el("canvas", cls, parent);
  [c.width, c.height] = [shape[2], shape[1]];
  return c;
}

// The map's plane <-> canvas pixels, and its static layer (prior circles, ellipses, the held-out codes).
export function mapFrame(meta, size) {
  const [[x0, x1], [y0, y1]] = meta.domain;
  return {
    size,
    toPx: (x, y) => [((x - x0) / (x1 - x0)) * size, (1 - (y - y0) / (y1 - y0)) * size],
    toPlane: (px, py) => [x0 + (px / size) * (x1 - x0), y0 + (1 - py / size) * (y1 - y0)],
  };
}

function polyline(ctx, frame, pts, close = false) {
  ctx.beginPath();
  pts.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, ...frame.toPx(x, y)));
  if (close) ctx.closePath();
  ctx.stroke();
}

// Round tick values across [lo, hi]: a step of 1, 2 or 5 times a power of ten, about five of them.
function ticks(lo, hi) {
  const raw = (hi - lo) / 5;
  if (!(raw > 0 && Number.isFinite(raw))) return [];
  const p = 10 ** Math.floor(Math.log10(raw)), step = [1, 2, 5, 10].find((m) => m * p >= raw) * p, out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(Math.abs(v) < step / 1e6 ? 0 : v);
  return out;
}

// Light grid lines at the ticks, and their values along the bottom and left edges (inside the frame).
function grid(ctx, frame, meta) {
  const [[x0, x1], [y0, y1]] = meta.domain, size = frame.size;
  ctx.strokeStyle = "#eeeeee";
  ctx.fillStyle = "#777777";
  ctx.font = "10px sans-serif";
  for (const v of ticks(x0, x1)) {
    const [px] = frame.toPx(v, y0);
    ctx.beginPath(); ctx.moveTo(px, 0); ctx.lineTo(px, size); ctx.stroke();
    ctx.fillText(String(+v.toPrecision(3)), px + 2, size - 3);
  }
  for (const v of ticks(y0, y1)) {
    const [, py] = frame.toPx(x0, v);
    ctx.beginPath(); ctx.moveTo(0, py); ctx.lineTo(size, py); ctx.stroke();
    ctx.fillText(String(+v.toPrecision(3)), 2, py - 2);
  }
}

export function drawBase(ctx, frame, meta, xy, labels) {
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, frame.size, frame.size);
  ctx.lineWidth = 1;
  grid(ctx, frame, meta);
  for (const [i, curve] of (meta.ellipses || []).entries()) {
    ctx.strokeStyle = PALETTE[meta.ellipse_labels[i] % 10] + "88";
    polyline(ctx, frame, curve, true);
  }
  ctx.strokeStyle = "#888";
  ctx.setLineDash([4, 4]);
  for (const circle of meta.prior || []) polyline(ctx, frame, circle, true);
  ctx.setLineDash([]);
  ctx.globalAlpha = 0.75;
  for (let i = 0; i < labels.length; i++) {
    const [px, py] = frame.toPx(xy[2 * i], xy[2 * i + 1]);
    ctx.fillStyle = PALETTE[labels[i] % 10];
    ctx.beginPath();
    ctx.arc(px, py, 2.4, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
}

export function marker(ctx, frame, x, y, color, shape = "cross") {
  const [px, py] = frame.toPx(x, y);
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 2.5;
  ctx.beginPath();
  if (shape === "diamond") {
    ctx.moveTo(px, py - 8); ctx.lineTo(px + 8, py); ctx.lineTo(px, py + 8); ctx.lineTo(px - 8, py); ctx.closePath();
    ctx.fill();
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1.5;
    ctx.stroke();
    return;
  }
  ctx.moveTo(px - 8, py); ctx.lineTo(px + 8, py); ctx.moveTo(px, py - 8); ctx.lineTo(px, py + 8);
  ctx.stroke();
}

export function curve(ctx, frame, pts, color, dash = false) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.setLineDash(dash ? [5, 4] : []);
  polyline(ctx, frame, pts);
  ctx.setLineDash([]);
}

export function legend(parent, meta, labels) {
  const box = el("div", "ael-legend", parent), seen = [...new Set(labels)].sort((a, b) => a - b);
  if (seen.length < 2) return;
  for (const c of seen) {
    const item = el("span", "ael-chip", box);
    el("i", "", item).style.background = PALETTE[c % 10];
    item.append(meta.classes ? meta.classes[c] ?? String(c) : String(c));
  }
}

export function where(meta, ratio) {
  for (const [limit, words] of meta.where) if (limit === null || ratio < limit) return words;
  return "";
}

export function className(meta, label) {
  return meta.classes ? meta.classes[label] ?? String(label) : String(label);
}

// A requestAnimationFrame loop that runs `work(arg)` at most once per frame with the latest arg, and records
// each frame's milliseconds (decode + paint) under `name` for the benchmark (scripts/bench_latent_browser.py).
export function perFrame(work, name) {
  const times = (LAB.timings[name] ??= []);
  let pending = null, queued = false;
  return (arg) => {
    pending = arg;
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const t0 = performance.now();
      work(pending);
      times.push(performance.now() - t0);
      if (times.length > 5000) times.splice(0, 1000);
    });
  };
}

// ---- the map: hover decodes, a click commits ----------------------------------------------------------------
function mapView(root, nn, model, heldout, view, args) {
  const { meta, arrays } = view, shape = model.header.image, k = model.header.latent;
  const row = el("div", "ael-row", root), left = el("div", "ael-map", row), right = el("div", "ael-side", row);
  const size = meta.size || 400, canvas = el("canvas", "ael-plane", left);
  canvas.width = canvas.height = size;
  canvas.dataset.role = "map";
  el("div", "ael-axis", left, `→ ${meta.axes[0]}   ↑ ${meta.axes[1]}`);
  legend(left, meta, arrays.labels);
  const base = document.createElement("canvas");
  base.width = base.height = size;
  const frame = mapFrame(meta, size);
  drawBase(base.getContext("2d"), frame, meta, arrays.xy, arrays.labels);
  const ctx = canvas.getContext("2d");
  const pics = el("div", "ael-pics", right);
  const one = el("figure", "", pics), two = el("figure", "", pics);
  const decoded = imageCanvas(one, shape), near = imageCanvas(two, shape);
  decoded.dataset.role = "decoded";
  const cap1 = el("figcaption", "", one), cap2 = el("figcaption", "", two);
  const text = el("div", "ael-text", right);
  el("div", "ael-hint", right, "Move the mouse over the map: the decoder draws each point, in your browser. Click to " +
    "pin a point for the rest of the page.");
  let pinned = meta.pinned, hover = null;

  const show = ([x, y], live) => {
    const z = nn.planeToCode(model, x, y);
    paint(decoded, nn.decode(model, z), shape);
    decoded.dataset.at = `${x.toFixed(4)},${y.toFixed(4)}`;
    decoded.dataset.decodes = String(Number(decoded.dataset.decodes || 0) + 1);
    const { index, distance } = nn.nearest(arrays.xy, 2, Float32Array.of(x, y));
    const n = shape[0] * shape[1] * shape[2];
    paint(near, Float32Array.from(heldout.subarray(index * n, (index + 1) * n), (v) => v / 255), shape);
    cap1.textContent = `${live ? "under the mouse" : "pinned"} (${x.toFixed(2)}, ${y.toFixed(2)})`;
    cap2.textContent = `nearest held-out: #${index}` + (meta.one_class ? "" : `, a '${className(meta, arrays.labels[index])}'`);
    const ratio = meta.spacing > 0 ? distance / meta.spacing : NaN;
    text.innerHTML = "";
    el("span", "", text, `Distance on the map to the nearest digit: `);
    el("b", "", text, distance.toFixed(2));
    el("span", "", text, ` = ${ratio.toFixed(1)}× the typical spacing (${meta.spacing.toFixed(2)}) — `);
    el("b", "", text, where(meta, ratio));
    if (k > 2) el("div", "ael-note", text, `A ${k}-D latent seen on its PCA plane: the point decoded is the mean ` +
      "code + x·PC1 + y·PC2.");
  };
  const redraw = () => {
    ctx.drawImage(base, 0, 0);
    if (pinned) marker(ctx, frame, pinned[0], pinned[1], "#d62728");
    if (hover) marker(ctx, frame, hover[0], hover[1], "#222");
  };
  const tick = perFrame((at) => { hover = at; redraw(); show(at || pinned, !!at); }, "hover");
  const plane = (e) => {
    const r = canvas.getBoundingClientRect();
    return frame.toPlane(((e.clientX - r.left) / r.width) * size, ((e.clientY - r.top) / r.height) * size);
  };
  canvas.addEventListener("pointermove", (e) => tick(plane(e)));
  canvas.addEventListener("pointerleave", () => tick(null));
  canvas.addEventListener("click", (e) => {
    pinned = plane(e);
    tick(null);
    args.setStateValue("point", { x: pinned[0], y: pinned[1] });
  });
  redraw();
  show(pinned, false);
}

const HELPERS = { el, paint, imageCanvas, mapFrame, drawBase, marker, curve, legend, where, className, perFrame };

const MOUNTED = new WeakMap();  // parentElement -> the cleanup of what was drawn there

export default function (args) {
  const { data, parentElement } = args;
  // Streamlit calls this again, on the same parentElement, whenever the mount's data changes (a click's rerun sends
  // a new pinned point) and calls the returned cleanup only on unmount: clear the previous drawing first.
  MOUNTED.get(parentElement)?.();
  if (!data) return;
  const view = unpack(data);
  const root = el("div", `ael ael-${view.meta.mode}`, parentElement);
  let gone = false;
  const cleanup = () => {
    gone = true;
    root.remove();
    if (MOUNTED.get(parentElement) === cleanup) MOUNTED.delete(parentElement);
  };
  MOUNTED.set(parentElement, cleanup);
  if (view.meta.mode === "hold") {
    lib("nn").then((nn) => hold(view.meta.name, { model: nn.parseModel(view.arrays.model), heldout: view.arrays.heldout }));
    return cleanup;
  }
  Promise.all([lib("nn"), lib("drawing"), lib("views"), held(view.meta.model)]).then(([nn, drawing, views, h]) => {
    if (gone) return;
    const run = view.meta.mode === "map" ? mapView : views[view.meta.mode];
    run(root, nn, h.model, h.heldout, view, args, { drawing, ...HELPERS });
    root.dataset.ready = "1";
  }).catch((err) => { el("div", "ael-error", root, `The latent explorer failed: ${err}`); });
  return cleanup;
}
