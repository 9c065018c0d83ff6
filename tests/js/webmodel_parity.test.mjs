// Parity of ui/latent_map/nn.js with PyTorch: tests/test_webmodel.py writes, for every architecture the engine
// builds, a payload (NAME.bin) and PyTorch's answers on fixed inputs (NAME.json) into $WEBMODEL_FIXTURES, then runs
// this file. Every decoded pixel, code number and plane coordinate must agree within 1e-4.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseModel, decode, encode, planeToCode, codeToPlane, nearest } from "../../ui/latent_map/nn.js";

const TOL = 1e-4;
const folder = process.env.WEBMODEL_FIXTURES;

// The largest |a - b| over two equal-length arrays, failing on any length mismatch or NaN.
function maxDiff(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    assert.ok(Number.isFinite(d), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
    if (d > worst) worst = d;
  }
  return worst;
}

function close(actual, expected, what) {
  const worst = maxDiff(actual, expected, what);
  assert.ok(worst <= TOL, `${what}: off by ${worst} (> ${TOL})`);
}

function checkCase(fx, model) {
  const h = model.header;
  assert.equal(h.latent, fx.latent);
  assert.equal(h.variational, fx.variational);
  assert.deepEqual(h.image, fx.image);
  assert.equal(h.hasPlane, true);
  fx.z.forEach((z, i) => close(decode(model, Float32Array.from(z)), fx.decoded[i], `decode #${i}`));
  fx.pixels.forEach((p, i) => {
    const { mu, logvar } = encode(model, Float32Array.from(p));
    close(mu, fx.mu[i], `encode mu #${i}`);
    if (fx.logvar) close(logvar, fx.logvar[i], `encode logvar #${i}`);
    else assert.equal(logvar, null);
    close(codeToPlane(model, mu), fx.code_plane[i], `codeToPlane #${i}`);
  });
  fx.plane_xy.forEach(([x, y], i) => {
    const code = planeToCode(model, x, y);
    close(code, fx.plane_code[i], `planeToCode #${i}`);
    close(decode(model, code), fx.plane_decoded[i], `decode(planeToCode) #${i}`);
  });
}

const names = folder ? readdirSync(folder).filter((f) => f.endsWith(".bin")).map((f) => f.slice(0, -4)).sort() : [];

test("fixtures were written", { skip: folder ? false : "run by tests/test_webmodel.py (sets WEBMODEL_FIXTURES)" },
  () => assert.ok(names.length > 0, `no payloads in ${folder}`));

for (const name of names) {
  test(`parity ${name}`, () => {
    const fx = JSON.parse(readFileSync(join(folder, `${name}.json`), "utf8"));
    checkCase(fx, parseModel(readFileSync(join(folder, `${name}.bin`))));
  });
}

if (folder) {
  test("nearest equals engine.teaching.latent.nearest", () => {
    const fx = JSON.parse(readFileSync(join(folder, "nearest.json"), "utf8"));
    const codes = Float32Array.from(fx.codes.flat());
    fx.queries.forEach((q, i) => {
      const { index, distance } = nearest(codes, fx.k, Float32Array.from(q));
      assert.equal(index, fx.expected[i][0], `query #${i}`);
      assert.ok(Math.abs(distance - fx.expected[i][1]) <= TOL, `query #${i}: ${distance} vs ${fx.expected[i][1]}`);
    });
  });

  test("a decode reuses its buffers; `out` keeps a result", () => {
    const model = parseModel(readFileSync(join(folder, "preset-seed-vae.bin")));
    const a = decode(model, new Float32Array(20));
    const b = decode(model, new Float32Array(20).fill(1));
    assert.equal(a, b, "the same preallocated array both times");
    const kept = new Float32Array(784);
    decode(model, new Float32Array(20), kept);
    assert.notDeepEqual(Array.from(kept), Array.from(b));
  });

  test("a payload at an odd byte offset (a slice of a larger message) parses to the same model", () => {
    const bytes = readFileSync(join(folder, "preset-conv-vae.bin"));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const z = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const a = decode(parseModel(bytes), z).slice();
    assert.deepEqual(Array.from(decode(parseModel(shifted.subarray(1)), z)), Array.from(a));
  });
}
