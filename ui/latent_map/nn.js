// The browser half of engine/core/webmodel.py: a trained autoencoder's decoder and encoder in plain JavaScript,
// so hovering the latent map decodes at frame rate and drawing a digit moves its code live, without the server.
// No dependencies; one ES module for the browser and for Node (node --test tests/js/, against PyTorch's numbers).
//
// Interface (stable; the latent-map component codes against it):
//   parseModel(bytesLike) -> model        ArrayBuffer | TypedArray | DataView | Node Buffer holding one payload;
//                                         model.header: the payload's JSON header (latent, variational,
//                                         image [C, H, W], ...) plus hasPlane (a plane was sent, or latent <= 2)
//   decode(model, z: Float32Array, out?) -> Float32Array   C*H*W pixels in [0, 1], C-major like torch
//   encode(model, pixels: Float32Array, out?) -> {mu: Float32Array, logvar: Float32Array | null}
//                                         pixels in [0, 1], C-major; mu is the code z for an AE
//   planeToCode(model, x, y, out?) -> Float32Array            mean + x*basis[0] + y*basis[1]
//   codeToPlane(model, code) -> [x, y]                        (code - mean) . basis[i]
//   nearest(codes: Float32Array, k, query: Float32Array) -> {index, distance}   Euclidean, codes n x k row-major
//
// Buffers: every intermediate result has a buffer allocated once, in parseModel, so a decode allocates nothing
// (it runs every animation frame). The arrays decode/encode/planeToCode return are those buffers: the next call
// overwrites them. Pass `out` (or .slice() the result) to keep one.
//
// Arithmetic: sums run in JavaScript doubles and are stored as float32, so results agree with PyTorch's float32
// to ~1e-6 (tests/test_webmodel.py asserts 1e-4 per pixel and per code number for every architecture).

const FORMAT = "ae-lab-webmodel";
const VERSION = 1;

// ---- the payload ---------------------------------------------------------------------------------------------

function asBytes(bytesLike) {
  if (bytesLike instanceof ArrayBuffer) return new Uint8Array(bytesLike);
  if (ArrayBuffer.isView(bytesLike)) {
    return new Uint8Array(bytesLike.buffer, bytesLike.byteOffset, bytesLike.byteLength);
  }
  throw new TypeError("parseModel needs an ArrayBuffer or a typed array of the payload's bytes");
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// A tensor's float32s: a view into the payload when aligned on a little-endian host (no copy), else a copy.
function tensorData(bytes, dataStart, entry, name) {
  const [start, end] = entry.data_offsets;
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (entry.dtype !== "F32" || end - start !== count * 4 || dataStart + end > bytes.byteLength) {
    throw new Error(`tensor ${name}: bad entry in the payload's header`);
  }
  const at = bytes.byteOffset + dataStart + start;
  if (LITTLE_ENDIAN && at % 4 === 0) return new Float32Array(bytes.buffer, at, count);
  const view = new DataView(bytes.buffer, at, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function readHeader(bytes) {
  if (bytes.byteLength < 8) throw new Error("not a model payload: shorter than its 8-byte header length");
  const head = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const n = head.getUint32(0, true) + head.getUint32(4, true) * 2 ** 32;
  if (n <= 0 || 8 + n > bytes.byteLength) throw new Error("not a model payload: its header length is out of range");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  if (header.format !== FORMAT || header.version !== VERSION) {
    throw new Error(`not a ${FORMAT} v${VERSION} payload (got ${header.format} v${header.version})`);
  }
  return { header, dataStart: 8 + n };
}

const size = (shape) => shape.reduce((a, b) => a * b, 1);

// ---- kernels: each writes `out` from `x`, shapes per image (no batch) -----------------------------------------

// y = W x + b, W (out, in) row-major. Four accumulators: independent sums pipeline better than one chain.
export function linear(x, w, b, out, nIn, nOut) {
  for (let o = 0; o < nOut; o++) {
    const row = o * nIn;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
    for (; i + 3 < nIn; i += 4) {
      s0 += w[row + i] * x[i];
      s1 += w[row + i + 1] * x[i + 1];
      s2 += w[row + i + 2] * x[i + 2];
      s3 += w[row + i + 3] * x[i + 3];
    }
    for (; i < nIn; i++) s0 += w[row + i] * x[i];
    out[o] = (b ? b[o] : 0) + (s0 + s1) + (s2 + s3);
  }
}

// Elementwise activations run in place: they need no buffer of their own.
export const activations = {
  relu: (x, n) => { for (let i = 0; i < n; i++) if (x[i] < 0) x[i] = 0; },
  sigmoid: (x, n) => { for (let i = 0; i < n; i++) x[i] = 1 / (1 + Math.exp(-x[i])); },
  tanh: (x, n) => { for (let i = 0; i < n; i++) x[i] = Math.tanh(x[i]); },
  leaky_relu: (x, n, slope) => { for (let i = 0; i < n; i++) if (x[i] < 0) x[i] *= slope; },
};

// One tap of a convolution: weight wv between a dense grid and a strided one, dense (y, x) meeting strided
// (y*sy + offY, x*sx + offX); out-of-range positions are skipped (zero padding, or the transpose's crop). conv2d
// gathers from its strided input into its dense output; its transpose, the adjoint, scatters from its dense
// input into its strided output. The inner loop is a strided axpy over one row.
function tap(dense, dBase, dH, dW, strided, sBase, sH, sW, wv, gather, sy, sx, offY, offX) {
  // the dense columns whose strided partner lies inside its grid: 0 <= x*sx + offX < sW
  const x0 = Math.max(0, Math.ceil(-offX / sx)), x1 = Math.min(dW, Math.floor((sW - 1 - offX) / sx) + 1);
  for (let y = 0; y < dH; y++) {
    const ys = y * sy + offY;
    if (ys < 0 || ys >= sH) continue;
    const d = dBase + y * dW, s = sBase + ys * sW + offX;
    if (gather) for (let x = x0; x < x1; x++) dense[d + x] += wv * strided[s + x * sx];
    else for (let x = x0; x < x1; x++) strided[s + x * sx] += wv * dense[d + x];
  }
}

// torch.nn.Conv2d (w: co, ci, kh, kw) and, transposed, torch.nn.ConvTranspose2d (w: ci, co, kh, kw). The weight
// is outermost, so each tap runs over whole rows.
function convolve(x, [ci, h, wd], w, b, out, [co, oh, ow], { kernel, stride, padding, dilation }, transposed) {
  const [kh, kw] = kernel, [sh, sw] = stride, [ph, pw] = padding, [dh, dw] = dilation;
  for (let o = 0; o < co; o++) out.fill(b ? b[o] : 0, o * oh * ow, (o + 1) * oh * ow);
  for (let o = 0; o < co; o++) {
    for (let c = 0; c < ci; c++) {
      const wBase = (transposed ? c * co + o : o * ci + c) * kh * kw, ib = c * h * wd, ob = o * oh * ow;
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const wv = w[wBase + ky * kw + kx], offY = ky * dh - ph, offX = kx * dw - pw;
          if (transposed) tap(x, ib, h, wd, out, ob, oh, ow, wv, false, sh, sw, offY, offX);
          else tap(out, ob, oh, ow, x, ib, h, wd, wv, true, sh, sw, offY, offX);
        }
      }
    }
  }
}

export function conv2d(x, inShape, w, b, out, outShape, opts) {
  convolve(x, inShape, w, b, out, outShape, opts, false);
}

export function convTranspose2d(x, inShape, w, b, out, outShape, opts) {
  convolve(x, inShape, w, b, out, outShape, opts, true);
}

// torch.nn.MaxPool2d in floor mode; padding counts as -infinity, as in torch.
export function maxPool2d(x, [c, h, wd], out, [, oh, ow], { kernel, stride, padding, dilation }) {
  const [kh, kw] = kernel, [sh, sw] = stride, [ph, pw] = padding, [dh, dw] = dilation;
  for (let ch = 0; ch < c; ch++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let m = -Infinity;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - ph + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - pw + kx * dw;
            if (ix >= 0 && ix < wd && x[(ch * h + iy) * wd + ix] > m) m = x[(ch * h + iy) * wd + ix];
          }
        }
        out[(ch * oh + oy) * ow + ox] = m;
      }
    }
  }
}

// ---- plans: an op list compiled to steps over preallocated buffers --------------------------------------------

const SHAPE_ONLY = new Set(["flatten", "unflatten"]); // C-major data is the same array in any of these shapes

function compileStep(op, tensors, input) {
  const inShape = op.in_shape, outShape = op.out_shape;
  if (SHAPE_ONLY.has(op.op)) return { out: input, run: () => {} };
  if (op.op in activations) {
    const f = activations[op.op], n = size(inShape), slope = op.negative_slope;
    return { out: input, run: () => f(input, n, slope) };
  }
  const out = new Float32Array(size(outShape));
  const w = tensors[op.weight], b = op.bias ? tensors[op.bias] : null;
  switch (op.op) {
    case "linear":
      return { out, run: () => linear(input, w, b, out, inShape[0], outShape[0]) };
    case "conv2d":
      return { out, run: () => conv2d(input, inShape, w, b, out, outShape, op) };
    case "conv_transpose2d":
      return { out, run: () => convTranspose2d(input, inShape, w, b, out, outShape, op) };
    case "max_pool2d":
      return { out, run: () => maxPool2d(input, inShape, out, outShape, op) };
    default:
      throw new Error(`op '${op.op}' is not one this kernel set runs`);
  }
}

// A plan owns its input buffer; each step reads the previous step's buffer and names its own.
function compile(ops, tensors, inSize, input = new Float32Array(inSize)) {
  const steps = [];
  let cur = input;
  for (const op of ops) {
    if (size(op.in_shape) !== cur.length) throw new Error(`op '${op.op}': its input shape does not chain`);
    const step = compileStep(op, tensors, cur);
    steps.push(step.run);
    cur = step.out;
  }
  return { input, output: cur, steps };
}

function run(plan) {
  for (let i = 0; i < plan.steps.length; i++) plan.steps[i]();
  return plan.output;
}

function readPlane(h, tensors) {
  if (h.plane) return { mean: tensors[h.plane.mean], basis: tensors[h.plane.basis] };
  // No plane sent: for a 1- or 2-number code the map's axes are the code itself (latent.project_2d).
  if (h.latent === 2) return { mean: new Float32Array(2), basis: new Float32Array([1, 0, 0, 1]) };
  if (h.latent === 1) return { mean: new Float32Array(1), basis: new Float32Array([1, 0]) };
  return null;
}

export function parseModel(bytesLike) {
  const bytes = asBytes(bytesLike);
  const { header, dataStart } = readHeader(bytes);
  const tensors = {};
  for (const [name, entry] of Object.entries(header.tensors)) tensors[name] = tensorData(bytes, dataStart, entry, name);
  const k = header.latent, pixels = size(header.image);
  const decoder = compile(header.decoder, tensors, k);
  const encoder = compile(header.encoder, tensors, pixels);
  if (decoder.output.length !== pixels) throw new Error("the decoder's output is not an image");
  const heads = header.variational
    ? { mu: compile(header.mu, tensors, encoder.output.length, encoder.output),
        logvar: compile(header.logvar, tensors, encoder.output.length, encoder.output) }
    : null;
  const plane = readPlane(header, tensors);
  header.hasPlane = plane !== null;
  return {
    header, tensors, decoder, encoder, heads, plane,
    pixels: new Float32Array(pixels), // decode's result
    code: new Float32Array(k), // planeToCode's result
  };
}

// ---- the model API ---------------------------------------------------------------------------------------------

export function decode(model, z, out = model.pixels) {
  const { decoder } = model, { scale, shift } = model.header.pixels;
  if (z.length !== decoder.input.length) throw new Error(`decode needs ${decoder.input.length} numbers`);
  decoder.input.set(z);
  const y = run(decoder);
  // Autoencoder.generate: to_pixels, then clamp to [0, 1]
  for (let i = 0; i < y.length; i++) {
    const p = y[i] * scale + shift;
    out[i] = p < 0 ? 0 : p > 1 ? 1 : p;
  }
  return out;
}

export function encode(model, pixels, out = null) {
  const { encoder, heads } = model, { scale, shift } = model.header.pixels;
  if (pixels.length !== encoder.input.length) throw new Error(`encode needs ${encoder.input.length} pixels`);
  for (let i = 0; i < pixels.length; i++) encoder.input[i] = (pixels[i] - shift) / scale; // to_model
  const h = run(encoder);
  let mu = h, logvar = null;
  if (heads) {
    mu = run(heads.mu);
    logvar = run(heads.logvar);
  }
  if (!out) return { mu, logvar };
  out.mu.set(mu);
  if (logvar && out.logvar) out.logvar.set(logvar);
  return out;
}

function needPlane(model) {
  if (!model.plane) throw new Error("this payload has no plane: export it with projection=(mean, basis)");
  return model.plane;
}

export function planeToCode(model, x, y, out = model.code) {
  const { mean, basis } = needPlane(model), k = mean.length;
  for (let i = 0; i < k; i++) out[i] = mean[i] + x * basis[i] + y * basis[k + i];
  return out;
}

export function codeToPlane(model, code) {
  const { mean, basis } = needPlane(model), k = mean.length;
  let x = 0, y = 0;
  for (let i = 0; i < k; i++) {
    const d = code[i] - mean[i];
    x += d * basis[i];
    y += d * basis[k + i];
  }
  return [x, y];
}

// The row of `codes` (n x k, row-major) closest to `query`. Squared distances compared, one sqrt at the end;
// a row is abandoned as soon as its partial sum passes the best so far.
export function nearest(codes, k, query) {
  const n = Math.floor(codes.length / k);
  let best = Infinity, index = -1;
  for (let r = 0; r < n; r++) {
    const base = r * k;
    let s = 0;
    for (let j = 0; j < k && s < best; j++) {
      const d = codes[base + j] - query[j];
      s += d * d;
    }
    if (s < best) { best = s; index = r; }
  }
  return { index, distance: index < 0 ? Infinity : Math.sqrt(best) };
}
