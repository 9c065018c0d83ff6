// ui/latent_map/nn.js's kernels on cases small enough to work out by hand, and payloads it must refuse.
// (Parity with PyTorch on every architecture: webmodel_parity.test.mjs.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { linear, conv2d, convTranspose2d, maxPool2d, activations, nearest, parseModel, decode, encode, codeToPlane }
  from "../../ui/latent_map/nn.js";

const ONE = { kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };

test("linear: W x + b, rows of W are outputs", () => {
  const out = new Float32Array(2);
  // W = [[1, 2, 3, 4, 5], [-1, 0, 0, 0, 1]], x = [1, 1, 1, 1, 2], b = [0.5, -2]
  linear(Float32Array.of(1, 1, 1, 1, 2), Float32Array.of(1, 2, 3, 4, 5, -1, 0, 0, 0, 1), Float32Array.of(0.5, -2),
    out, 5, 2);
  assert.deepEqual(Array.from(out), [20.5, -1]);
});

test("conv2d: a 2x2 kernel of ones sums each window; padding adds zeros; stride skips", () => {
  const x = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9); // 1 x 3 x 3
  const w = Float32Array.of(1, 1, 1, 1);
  const out = new Float32Array(4);
  conv2d(x, [1, 3, 3], w, null, out, [1, 2, 2], { ...ONE, kernel: [2, 2] });
  assert.deepEqual(Array.from(out), [12, 16, 24, 28]);
  const padded = new Float32Array(4); // padding 1, stride 2 over the 3x3: windows at the corners
  conv2d(x, [1, 3, 3], w, Float32Array.of(10), padded, [1, 2, 2], { ...ONE, kernel: [2, 2], stride: [2, 2],
    padding: [1, 1] });
  assert.deepEqual(Array.from(padded), [11, 15, 21, 38]); // 10 + {1}, {2+3}, {4+7}, {5+6+8+9}
});

test("convTranspose2d: each input pixel stamps the kernel at stride spacing, padding crops", () => {
  const x = Float32Array.of(1, 2); // 1 x 1 x 2
  const w = Float32Array.of(1, 10, 100, 1000); // 1 in, 1 out, 2x2
  const out = new Float32Array(8); // stride 2: 1 x 2 x 4
  convTranspose2d(x, [1, 1, 2], w, null, out, [1, 2, 4], { ...ONE, kernel: [2, 2], stride: [2, 2] });
  assert.deepEqual(Array.from(out), [1, 10, 2, 20, 100, 1000, 200, 2000]);
  const overlap = new Float32Array(3); // stride 1: the stamps overlap and add; 1 x 1 x 3 with a 1x2 kernel
  convTranspose2d(x, [1, 1, 2], Float32Array.of(1, 10), null, overlap, [1, 1, 3], { ...ONE, kernel: [1, 2] });
  assert.deepEqual(Array.from(overlap), [1, 12, 20]);
  const cropped = new Float32Array(1); // padding 1 removes one pixel from each side of the 1 x 1 x 3
  convTranspose2d(x, [1, 1, 2], Float32Array.of(1, 10), null, cropped, [1, 1, 1], { ...ONE, kernel: [1, 2],
    padding: [0, 1] });
  assert.deepEqual(Array.from(cropped), [12]);
});

test("maxPool2d: the largest value in each window, padding never wins", () => {
  const x = Float32Array.of(-1, -2, -3, -4, -5, -6, -7, -8, -9);
  const out = new Float32Array(4);
  maxPool2d(x, [1, 3, 3], out, [1, 2, 2], { ...ONE, kernel: [2, 2], stride: [2, 2], padding: [1, 1] });
  assert.deepEqual(Array.from(out), [-1, -2, -4, -5]);
});

test("activations run in place", () => {
  const x = Float32Array.of(-2, 0, 3);
  activations.relu(x, 3);
  assert.deepEqual(Array.from(x), [0, 0, 3]);
  const y = Float32Array.of(0, -1);
  activations.sigmoid(y, 2);
  assert.ok(y[0] === 0.5 && Math.abs(y[1] - 1 / (1 + Math.E)) < 1e-7);
  const t = Float32Array.of(-10, 0.5);
  activations.leaky_relu(t, 2, 0.1);
  assert.deepEqual(Array.from(t), [-1, 0.5]);
});

test("nearest: index and Euclidean distance of the closest row", () => {
  const codes = Float32Array.of(0, 0, 3, 4, 1, 1);
  assert.deepEqual(nearest(codes, 2, Float32Array.of(3, 3)), { index: 1, distance: 1 });
  assert.deepEqual(nearest(new Float32Array(0), 2, Float32Array.of(0, 0)), { index: -1, distance: Infinity });
});

function payload(header) {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + text.length);
  new DataView(bytes.buffer).setUint32(0, text.length, true);
  bytes.set(text, 8);
  return bytes;
}

test("payloads that are not a model are refused with a reason", () => {
  assert.throws(() => parseModel(new Uint8Array(4)), /shorter than its 8-byte header length/);
  assert.throws(() => parseModel(Uint8Array.of(255, 0, 0, 0, 0, 0, 0, 0, 1)), /header length is out of range/);
  assert.throws(() => parseModel(payload({ format: "safetensors", version: 1 })), /not a ae-lab-webmodel v1/);
  assert.throws(() => parseModel("weights"), /ArrayBuffer or a typed array/);
  const missing = { format: "ae-lab-webmodel", version: 1, tensors: { w: { dtype: "F32", shape: [4],
    data_offsets: [0, 16] } } };
  assert.throws(() => parseModel(payload(missing)), /tensor w: bad entry/);
});

test("a minimal payload (AE, 1 code number, 2 pixels) decodes and encodes", () => {
  const header = {
    format: "ae-lab-webmodel", version: 1, image: [1, 1, 2], latent: 1, variational: false, output: "tanh",
    pixels: { scale: 0.5, shift: 0.5 }, mu: null, logvar: null, plane: null,
    decoder: [{ op: "linear", weight: "d", bias: null, in_shape: [1], out_shape: [2] },
      { op: "unflatten", in_shape: [2], out_shape: [1, 1, 2] }],
    encoder: [{ op: "flatten", in_shape: [1, 1, 2], out_shape: [2] },
      { op: "linear", weight: "e", bias: null, in_shape: [2], out_shape: [1] }],
    tensors: { d: { dtype: "F32", shape: [2, 1], data_offsets: [0, 8] },
      e: { dtype: "F32", shape: [1, 2], data_offsets: [8, 16] } },
  };
  const head = payload(header);
  const bytes = new Uint8Array(head.length + 16);
  bytes.set(head);
  const data = new DataView(bytes.buffer, head.length); // deliberately unaligned when head.length % 4 != 0
  [0.5, -4, 1, 1].forEach((v, i) => data.setFloat32(i * 4, v, true));
  const model = parseModel(bytes.buffer);
  // y = [0.5 z, -4 z] in [-1, 1] -> pixels (y + 1) / 2, clamped
  assert.deepEqual(Array.from(decode(model, Float32Array.of(1))), [0.75, 0]);
  // pixels [1, 0.5] -> model range [1, 0] -> z = 1*1 + 1*0
  assert.deepEqual(Array.from(encode(model, Float32Array.of(1, 0.5)).mu), [1]);
  assert.equal(model.header.hasPlane, true); // a 1-number code is its own map axis
  assert.deepEqual(codeToPlane(model, Float32Array.of(2)), [2, 0]);
});
