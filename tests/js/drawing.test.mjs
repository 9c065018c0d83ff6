// The browser's drawing preprocessing (ui/latent_map/drawing.js) against engine/teaching/drawing.py and
// posterior.ellipse on the same inputs. Run by tests/test_latent_explorer_js.py, which writes the cases
// (Python's outputs included) to the JSON file named by AE_LAB_DRAWING_CASES.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ink, toMnist, fitShape, ellipse } from "../../ui/latent_map/drawing.js";

const cases = JSON.parse(readFileSync(process.env.AE_LAB_DRAWING_CASES, "utf8"));

function maxDiff(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const c of cases.drawings) {
  test(`to_mnist: ${c.name}`, () => {
    const px = ink(Uint8Array.from(c.rgba), c.w, c.h);
    const x = toMnist(px, c.h, c.w);
    if (c.expected === null) { assert.equal(x, null); return; }
    assert.ok(maxDiff(x, c.expected) <= 1e-4, `max |js - torch| = ${maxDiff(x, c.expected)}`);
    if (c.shape) {
      const y = fitShape(x, c.shape);
      assert.ok(maxDiff(y, c.fitted) <= 1e-4, `fit_shape: max |js - torch| = ${maxDiff(y, c.fitted)}`);
    }
  });
}

for (const e of cases.ellipses) {
  test(`ellipse: ${e.name}`, () => {
    const pts = ellipse(e.mu, e.logvar, e.mean, e.basis, e.nStd, e.nPoints);
    if (e.expected === null) { assert.equal(pts, null); return; }
    // Each JS point lies on the Python contour: (p - c)ᵀ Σ⁻¹ (p - c) = nStd², and the two cover the same range.
    const [[a, b], [, d]] = e.cov, det = a * d - b * b, [cx, cy] = e.centre;
    for (const [x, y] of pts) {
      const u = x - cx, v = y - cy, q = (d * u * u - 2 * b * u * v + a * v * v) / det;
      assert.ok(Math.abs(q - e.nStd ** 2) <= 1e-3 * e.nStd ** 2, `off the contour: ${q}`);
    }
    for (const axis of [0, 1]) {
      const js = pts.map((p) => p[axis]), py = e.expected.map((p) => p[axis]);
      assert.ok(Math.abs(Math.max(...js) - Math.max(...py)) < 0.02 * e.nStd + 1e-4);
      assert.ok(Math.abs(Math.min(...js) - Math.min(...py)) < 0.02 * e.nStd + 1e-4);
    }
  });
}
