"""The browser's decoder beside the server's: per-call time of one decode (a hover, every animation frame) and one
encode (a drawn digit) in ui/latent_map/nn.js under Node, against PyTorch on the CPU on one thread (what a click's
server decode computes, without the rerun around it), for the seed VAE and the conv VAE.

    .venv/bin/python scripts/bench_webmodel.py [--calls 500]

Weights are random (seeded): the time of a decode does not depend on their values. Node only, no browser: the
decode+paint per frame in Chromium is measured by the latent map component's own benchmark.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.core.models import build_model  # noqa: E402
from engine.core.presets import preset  # noqa: E402
from engine.core.webmodel import export  # noqa: E402

MODELS = ("seed-vae", "conv-vae")


def torch_times(model, calls: int) -> dict[str, dict[str, float]]:
    """p50/p95 wall ms and median CPU ms (this thread's: torch runs on one) of model.generate on one code and
    model.code on one image, after a warm-up."""
    z = torch.randn(16, model.latent_dim)
    x = torch.rand(4, 1, 28, 28)

    def quantiles(f, n):
        for i in range(max(20, n // 10)):
            f(i)
        ts, cpu = [], []
        for i in range(n):
            c0, t0 = time.thread_time(), time.perf_counter()
            f(i)
            ts.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
        ts.sort()
        return {"p50": ts[n // 2], "p95": ts[min(n - 1, int(0.95 * n))], "cpu50": sorted(cpu)[n // 2]}

    return {"decode": quantiles(lambda i: model.generate(z[i % 16:i % 16 + 1]), calls),
            "encode": quantiles(lambda i: model.code(x[i % 4:i % 4 + 1]), max(1, calls // 5))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="timed calls per model (1-100000)")
    args = parser.parse_args()
    if not 1 <= args.calls <= 100_000:
        parser.error(f"--calls must be between 1 and 100000, got {args.calls}")
    node = shutil.which("node")
    if node is None:
        print("node is not installed (Debian's nodejs): nothing to time", file=sys.stderr)
        return 1
    torch.set_num_threads(1)  # one core each: a browser tab's JavaScript runs on one
    with tempfile.TemporaryDirectory() as tmp:
        models, paths = {}, []
        for i, name in enumerate(MODELS):
            torch.manual_seed(i)
            models[name] = build_model(preset(name)).eval()
            path = Path(tmp) / f"{name}.bin"
            path.write_bytes(export(models[name]))
            paths.append(f"{name}={path}")
        done = subprocess.run([node, str(ROOT / "scripts/bench_webmodel.mjs"), *paths, "--calls", str(args.calls)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode:
            print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "node failed", file=sys.stderr)
            return 1
        js = json.loads(done.stdout)
    print("ms per call: wall-clock p50 / p95, and the median CPU time (what the kernel costs when the machine is"
          " shared)")
    print(f"{'model':<10} {'op':<8} {'JS (Node) p50 / p95 / CPU':>27} {'PyTorch 1 thread p50 / p95 / CPU':>34} "
          f"{'JS ÷ PyTorch (CPU)':>19}")
    for name, model in models.items():
        base = torch_times(model, args.calls)
        for op in ("decode", "encode"):
            a, b = js[name][op], base[op]
            print(f"{name:<10} {op:<8} {a['p50']:>9.3f} / {a['p95']:>7.3f} / {a['cpu50']:<6.3f} "
                  f"{b['p50']:>15.3f} / {b['p95']:>7.3f} / {b['cpu50']:<6.3f} "
                  f"{a['cpu50'] / max(b['cpu50'], 1e-3):>10.2f}×")
        n = js[name]["nearest"]
        print(f"{name:<10} {'nearest':<8} {n['p50']:>9.3f} / {n['p95']:>7.3f} / {n['cpu50']:<6.3f} "
              f"{'(1,000 held-out codes; JS only)':>34}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
