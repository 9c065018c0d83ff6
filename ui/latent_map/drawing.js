// A digit drawn in the browser made MNIST-like, exactly as engine/teaching/drawing.py does it on the server
// (crop, pad to a square, scale into 20×20 with PyTorch's antialiased bilinear filter, centre by mass in 28×28),
// and a posterior's σ-ellipse on the map as engine/teaching/posterior.py draws it. No imports: the component
// loads it as its own module, and tests/test_latent_explorer_js.py runs it under Node against the Python.

export const SIZE = 28;
export const BOX = 20;
export const INK = 0.05;

// RGBA bytes (ImageData.data, length 4·w·h) -> ink in [0, 1]: the mean of R, G, B times alpha (drawing.ink).
export function ink(rgba, w, h) {
  const out = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    const f = Math.fround, r = f(rgba[4 * i] / 255), g = f(rgba[4 * i + 1] / 255), b = f(rgba[4 * i + 2] / 255);
    out[i] = f(f(f(f(r + g) + b) / 3) * f(rgba[4 * i + 3] / 255));  // float32 steps, as numpy computes it
  }
  return out;
}

// PyTorch's antialiased linear weights along one axis (aten UpSampleKernel: _compute_indices_min_size_weights_aa).
function axisWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const support = scale >= 1 ? scale : 1;
  const invscale = scale >= 1 ? 1 / scale : 1;
  const rows = [];
  for (let i = 0; i < outSize; i++) {
    const centre = scale * (i + 0.5);
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const n = Math.min(Math.trunc(centre + support + 0.5), inSize) - lo;
    const w = new Float64Array(Math.max(n, 0));
    let total = 0;
    for (let j = 0; j < n; j++) {
      const t = Math.abs((j + lo - centre + 0.5) * invscale);
      w[j] = t < 1 ? 1 - t : 0;
      total += w[j];
    }
    for (let j = 0; j < n; j++) w[j] = total !== 0 ? w[j] / total : 0;
    rows.push({ lo, w });
  }
  return rows;
}

// F.interpolate(x[None, None], (oh, ow), mode="bilinear", antialias=True, align_corners=False) of one channel.
export function resize(src, h, w, oh, ow) {
  const cols = axisWeights(w, ow), rows = axisWeights(h, oh);
  const mid = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      const { lo, w: k } = cols[x];
      let s = 0;
      for (let j = 0; j < k.length; j++) s += k[j] * src[y * w + lo + j];
      mid[y * ow + x] = s;
    }
  }
  const out = new Float32Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const { lo, w: k } = rows[y];
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let j = 0; j < k.length; j++) s += k[j] * mid[(lo + j) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

// Python's round(): halves go to the even neighbour.
function roundHalfEven(v) {
  const f = Math.floor(v), d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// drawing.shift_to_centre: roll by whole pixels so the centre of mass is at the centre, never pushing ink off.
export function shiftToCentre(img, h, w) {
  let total = 0, sy = 0, sx = 0, r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = img[y * w + x];
      total += v; sy += v * y; sx += v * x;
      if (v > 0) { r0 = Math.min(r0, y); r1 = Math.max(r1, y); c0 = Math.min(c0, x); c1 = Math.max(c1, x); }
    }
  }
  total = Math.max(total, 1e-6);
  let dy = roundHalfEven((h - 1) / 2 - sy / total), dx = roundHalfEven((w - 1) / 2 - sx / total);
  dy = Math.max(-r0, Math.min(dy, h - 1 - r1));
  dx = Math.max(-c0, Math.min(dx, w - 1 - c1));
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) out[(((y + dy) % h + h) % h) * w + (((x + dx) % w + w) % w)] = img[y * w + x];
  }
  return out;
}

// drawing.to_mnist of an ink picture (h×w, values in [0, 1]) -> 28×28 in [0, 1] (row-major), or null when empty.
export function toMnist(inkPx, h, w, size = SIZE, box = BOX) {
  let r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (inkPx[y * w + x] > INK) { r0 = Math.min(r0, y); r1 = Math.max(r1, y); c0 = Math.min(c0, x); c1 = Math.max(c1, x); }
    }
  }
  if (r1 < 0) return null;
  const ch = r1 - r0 + 1, cw = c1 - c0 + 1, side = Math.max(ch, cw);
  const square = new Float32Array(side * side);
  const oy = Math.floor((side - ch) / 2), ox = Math.floor((side - cw) / 2);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) square[(oy + y) * side + ox + x] = inkPx[(r0 + y) * w + c0 + x];
  }
  const small = resize(square, side, side, box, box);
  let peak = 0;
  for (let i = 0; i < small.length; i++) { small[i] = Math.min(Math.max(small[i], 0), 1); peak = Math.max(peak, small[i]); }
  peak = Math.max(peak, 1e-6);
  const out = new Float32Array(size * size), off = Math.floor((size - box) / 2);
  for (let y = 0; y < box; y++) {
    for (let x = 0; x < box; x++) out[(off + y) * size + off + x] = small[y * box + x] / peak;
  }
  return shiftToCentre(out, size, size);
}

// drawing.fit_shape: the 28×28 digit resized to a model's input (C, H, W), every channel the same (C-major).
export function fitShape(x28, shape) {
  const [c, h, w] = shape;
  let one = x28;
  if (h !== SIZE || w !== SIZE) {
    one = resize(x28, SIZE, SIZE, h, w);
    for (let i = 0; i < one.length; i++) one[i] = Math.min(Math.max(one[i], 0), 1);
  }
  const out = new Float32Array(c * h * w);
  for (let k = 0; k < c; k++) out.set(one, k * h * w);
  return out;
}

// posterior.ellipse: the nStd contour of N(μ, diag σ²) seen on the plane (mean, basis 2×k), nPoints of [x, y];
// null for an AE (no logvar) or a 1-D latent. The shadow's covariance is B·diag(σ²)·Bᵀ.
export function ellipse(mu, logvar, mean, basis, nStd = 1, nPoints = 48) {
  const k = mean.length;
  if (!logvar || k < 2) return null;
  let a = 0, b = 0, d = 0, cx = 0, cy = 0;
  for (let i = 0; i < k; i++) {
    const v = Math.exp(logvar[i]), p = basis[0][i], q = basis[1][i];
    a += p * p * v; b += p * q * v; d += q * q * v;
    cx += (mu[i] - mean[i]) * p; cy += (mu[i] - mean[i]) * q;
  }
  const half = (a + d) / 2, root = Math.sqrt(Math.max(((a - d) / 2) ** 2 + b * b, 0));
  const l1 = half - root, l2 = half + root;  // ascending, as torch.linalg.eigh
  let v1 = Math.abs(b) > 1e-12 ? [b, l1 - a] : a <= d ? [1, 0] : [0, 1];
  const n1 = Math.hypot(v1[0], v1[1]);
  v1 = [v1[0] / n1, v1[1] / n1];
  const v2 = [-v1[1], v1[0]];
  const s1 = Math.sqrt(Math.max(l1, 0)), s2 = Math.sqrt(Math.max(l2, 0));
  const pts = [];
  for (let i = 0; i < nPoints; i++) {
    const t = (2 * Math.PI * i) / (nPoints - 1);
    const u = Math.cos(t) * s1 * nStd, w = Math.sin(t) * s2 * nStd;
    pts.push([cx + u * v1[0] + w * v2[0], cy + u * v1[1] + w * v2[1]]);
  }
  return pts;
}
