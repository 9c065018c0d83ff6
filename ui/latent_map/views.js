// The latent explorer's other views, all decoded in the browser at frame rate: draw your own digit (the encoder
// runs on every stroke), sweep one dimension of a code (traversal) and walk the straight path between two codes
// (interpolation). Loaded by explorer.js, which passes its painting helpers in `H` (with H.drawing: drawing.js).

const CANVAS = 252;  // the drawing canvas: 9× an MNIST digit, as ui/latent/canvas.py draws it
const DRAWN = "#d62728";

function smallMap(parent, view, H, size = 300) {
  const { meta, arrays } = view, canvas = H.el("canvas", "ael-plane", parent);
  canvas.width = canvas.height = size;
  const frame = H.mapFrame(meta, size), base = document.createElement("canvas");
  base.width = base.height = size;
  H.drawBase(base.getContext("2d"), frame, meta, arrays.xy, arrays.labels);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(base, 0, 0);
  return { canvas, frame, ctx, reset: () => ctx.drawImage(base, 0, 0) };
}

function nearestImage(nn, heldout, shape, px) {
  const n = shape[0] * shape[1] * shape[2];
  heldout.f32 ??= Float32Array.from(heldout, (v) => v / 255);  // once per model's held-out digits
  const { index, distance } = nn.nearest(heldout.f32, n, px);
  return { index, squared: distance * distance };
}

// ---- draw your own digit ----------------------------------------------------------------------------------
export function draw(root, nn, model, heldout, view, args, H) {
  const { meta, arrays } = view, shape = model.header.image, D = H.drawing;
  const row = H.el("div", "ael-row", root);
  const pad = H.el("div", "ael-pad", row), out = H.el("div", "ael-side", row), right = H.el("div", "ael-map", row);
  const board = H.el("canvas", "ael-board", pad);
  board.width = board.height = CANVAS;
  board.dataset.role = "board";
  const clear = H.el("button", "ael-button", pad, "Clear");
  const g = board.getContext("2d", { willReadFrequently: true });
  const wipe = () => { g.fillStyle = "#000"; g.fillRect(0, 0, CANVAS, CANVAS); };
  wipe();
  const pics = H.el("div", "ael-pics", out), f1 = H.el("figure", "", pics), f2 = H.el("figure", "", pics);
  const input = H.imageCanvas(f1, shape), recon = H.imageCanvas(f2, shape);
  H.el("figcaption", "", f1, "your digit, as the model sees it");
  H.el("figcaption", "", f2, "its reconstruction");
  const text = H.el("div", "ael-text", out, "Draw a digit on the black square: the encoder runs in your browser " +
    "on every stroke.");
  const map = smallMap(right, view, H);
  map.canvas.dataset.role = "drawn-map";
  H.el("div", "ael-axis", right, `→ ${meta.axes[0]}   ↑ ${meta.axes[1]}`);

  const encode = H.perFrame(() => {
    const x28 = D.toMnist(D.ink(g.getImageData(0, 0, CANVAS, CANVAS).data, CANVAS, CANVAS), CANVAS, CANVAS);
    map.reset();
    if (!x28) { text.textContent = "Draw a digit on the black square."; delete map.canvas.dataset.mu; return; }
    const x = D.fitShape(x28, shape), { mu, logvar } = nn.encode(model, x), y = nn.decode(model, mu);
    H.paint(input, x, shape);
    H.paint(recon, y, shape);
    const [px, py] = nn.codeToPlane(model, mu);
    for (const n of [2, 1]) {
      const e = logvar && D.ellipse(mu, logvar, meta.plane.mean, meta.plane.basis, n);
      if (e) H.curve(map.ctx, map.frame, e, DRAWN, n > 1);
    }
    H.marker(map.ctx, map.frame, px, py, DRAWN, "diamond");
    map.canvas.dataset.mu = `${px.toFixed(4)},${py.toFixed(4)}`;
    let score = 0;
    for (let i = 0; i < x.length; i++) score += (y[i] - x[i]) ** 2;
    const errors = arrays.errors, below = errors ? errors.filter((v) => v <= score).length : 0;
    const pct = errors && errors.length ? (100 * below) / errors.length : NaN;
    text.innerHTML = "";
    H.el("div", "", text, logvar
      ? `μ at (${px.toFixed(2)}, ${py.toFixed(2)}) on the map, mean σ = ${meanSigma(logvar).toFixed(2)}: the red ` +
        "rings are the 1σ and 2σ ellipses of q(z|x)."
      : `Its code lands at (${px.toFixed(2)}, ${py.toFixed(2)}): an AE gives one point, no spread.`);
    H.el("div", "", text, `Anomaly score (squared pixel error): ${score.toFixed(1)}` + (Number.isNaN(pct) ? "" :
      ` — worse than ${pct.toFixed(0)}% of ${errors.length.toLocaleString("en")} held-out digits: ` +
      verdictOf(meta, pct) + "."));
  }, "draw");
  let drawing = false;
  const at = (e) => {
    const r = board.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * CANVAS, ((e.clientY - r.top) / r.height) * CANVAS];
  };
  board.addEventListener("pointerdown", (e) => {
    drawing = true;
    board.setPointerCapture?.(e.pointerId);
    Object.assign(g, { strokeStyle: "#fff", lineWidth: 22, lineCap: "round", lineJoin: "round" });
    g.beginPath();
    g.moveTo(...at(e));
    g.lineTo(...at(e));
    g.stroke();
    encode();
  });
  board.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    g.lineTo(...at(e));
    g.stroke();
    encode();
  });
  const stop = () => { drawing = false; };
  board.addEventListener("pointerup", stop);
  board.addEventListener("pointercancel", stop);
  clear.addEventListener("click", () => { wipe(); encode(); });
}

function meanSigma(logvar) {
  let s = 0;
  for (const v of logvar) s += Math.exp(0.5 * v);
  return s / logvar.length;
}

function verdictOf(meta, pct) {
  for (const [limit, words] of meta.verdict) if (limit === null || pct < limit) return words;
  return "";
}

// A strip of decoded codes, painted side by side.
function strip(parent, nn, model, codes, H, extra = {}) {
  const shape = model.header.image, box = H.el("div", "ael-strip", parent);
  const all = [...(extra.before || []), ...codes.map((z) => nn.decode(model, z).slice()), ...(extra.after || [])];
  for (const px of all) H.paint(H.imageCanvas(box, shape, "ael-cell"), px, shape);
  return box;
}

function slider(parent, label) {
  const wrap = document.createElement("label"), input = document.createElement("input");
  wrap.className = "ael-slider";
  wrap.textContent = label;
  Object.assign(input, { type: "range", min: "0", max: "1000", value: "500", className: "ael-range" });
  wrap.appendChild(input);
  parent.appendChild(wrap);
  return input;
}

// ---- traversal: one coordinate of a code swept, the others fixed ------------------------------------------
export function sweep(root, nn, model, heldout, view, args, H) {
  const { meta } = view, shape = model.header.image, base = Float32Array.from(meta.base);
  const row = H.el("div", "ael-row", root), big = H.el("figure", "", row), side = H.el("div", "ael-side", row);
  const img = H.imageCanvas(big, shape, "ael-img ael-big");
  img.dataset.role = "sweep";
  const cap = H.el("figcaption", "", big);
  const input = slider(side, `Drag: z${meta.dim + 1} from ${meta.lo.toFixed(2)} to ${meta.hi.toFixed(2)}`);
  const at = (s) => { const z = base.slice(); z[meta.dim] = meta.lo + (meta.hi - meta.lo) * s; return z; };
  const steps = Array.from({ length: meta.steps }, (_, i) => at(i / (meta.steps - 1)));
  strip(side, nn, model, steps, H);
  H.el("div", "ael-hint", side, meta.caption);
  const show = H.perFrame((s) => {
    const z = at(s);
    H.paint(img, nn.decode(model, z), shape);
    cap.textContent = `z${meta.dim + 1} = ${z[meta.dim].toFixed(2)}`;
    img.dataset.value = z[meta.dim].toFixed(4);
  }, "sweep");
  input.addEventListener("input", () => show(input.value / 1000));
  show(0.5);
}

// ---- interpolation: the straight path between two codes -----------------------------------------------------
export function path(root, nn, model, heldout, view, args, H) {
  const { meta } = view, shape = model.header.image, n = shape[0] * shape[1] * shape[2];
  const za = Float32Array.from(meta.za), zb = Float32Array.from(meta.zb);
  const at = (t) => za.map((a, i) => (1 - t) * a + t * zb[i]);
  const row = H.el("div", "ael-row", root), left = H.el("div", "ael-map", row), side = H.el("div", "ael-side", row);
  const map = smallMap(left, view, H, meta.size || 260);
  const ends = [meta.a, meta.b].map((i) => Float32Array.from(heldout.subarray(i * n, (i + 1) * n), (v) => v / 255));
  const line = [0, 1].map((t) => nn.codeToPlane(model, at(t)));
  const big = H.el("figure", "", side), img = H.imageCanvas(big, shape, "ael-img ael-big");
  img.dataset.role = "path";
  const cap = H.el("figcaption", "", big);
  const input = slider(side, "Drag along the path from A to B");
  input.value = "0";
  strip(side, nn, model, Array.from({ length: meta.steps }, (_, i) => at(i / (meta.steps - 1))), H,
    { before: [ends[0]], after: [ends[1]] });
  const show = H.perFrame((t) => {
    const z = at(t), px = nn.decode(model, z), [x, y] = nn.codeToPlane(model, z);
    H.paint(img, px, shape);
    map.reset();
    H.curve(map.ctx, map.frame, line, "#222");
    H.marker(map.ctx, map.frame, x, y, DRAWN);
    const { index, squared } = nearestImage(nn, heldout, shape, px);
    cap.textContent = `t = ${t.toFixed(2)}: squared pixel distance to the closest real digit (#${index}) ${squared.toFixed(1)}`;
    img.dataset.t = t.toFixed(4);
  }, "path");
  input.addEventListener("input", () => show(input.value / 1000));
  show(0);
}
