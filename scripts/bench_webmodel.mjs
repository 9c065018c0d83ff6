// Times ui/latent_map/nn.js in Node: decode (one code -> one image, what a hover does every frame), encode (one
// drawn image -> its code) and nearest (one code against 1,000 held-out codes), per call, p50 and p95 in ms.
// Usage: node scripts/bench_webmodel.mjs NAME=PAYLOAD.bin ... [--calls N]   (scripts/bench_webmodel.py runs it)
// Prints one JSON object {NAME: {decode: {p50, p95, cpu50}, encode: {...}, nearest: {...}, calls}}: wall-clock
// quantiles, and the median CPU time of this process per call (on a machine shared with other work, wall time
// includes waiting for a core; CPU time is what the kernel itself costs).
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseModel, decode, encode, nearest } from "../ui/latent_map/nn.js";

const args = process.argv.slice(2);
const callsAt = args.indexOf("--calls");
const calls = callsAt >= 0 ? Number(args.splice(callsAt, 2)[1]) : 500;

function quantile(times, p) {
  const s = Float64Array.from(times).sort();
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

// Warm up first (the JIT compiles the kernels on their first calls), then time each call on its own.
function time(f, n) {
  for (let i = 0; i < Math.max(20, n / 10); i++) f(i);
  const times = new Array(n), cpu = new Array(n);
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    f(i);
    times[i] = performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu[i] = (c.user + c.system) / 1000;
  }
  return { p50: quantile(times, 0.5), p95: quantile(times, 0.95), cpu50: quantile(cpu, 0.5) };
}

// A fixed pseudo-random sequence (no Math.random: every run times the same inputs).
function filled(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (s * 1664525 + 1013904223) >>> 0; a[i] = s / 2 ** 32; }
  return a;
}

const result = {};
for (const arg of args) {
  const [name, path] = arg.split("=");
  const model = parseModel(readFileSync(path));
  const { latent: k, image } = model.header;
  const codes = Array.from({ length: 16 }, (_, i) => filled(k, i + 1).map((v) => 4 * v - 2)); // a sweep of codes
  const images = Array.from({ length: 4 }, (_, i) => filled(image[0] * image[1] * image[2], 100 + i));
  const heldout = filled(1000 * k, 7);
  result[name] = {
    calls,
    decode: time((i) => decode(model, codes[i % codes.length]), calls),
    encode: time((i) => encode(model, images[i % images.length]), Math.ceil(calls / 5)),
    nearest: time((i) => nearest(heldout, k, codes[i % codes.length]), calls),
  };
}
console.log(JSON.stringify(result));
