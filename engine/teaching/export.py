"""Export a finished run for a notebook: weights (state dict), a standalone model file, the config.

The model file is self-contained: it is the source of engine/core/losses.py and engine/core/models.py,
verbatim (so it is the same code that trained the weights, with the same `code`, `reconstruct` and
`generate`), followed by the config as a dict and a `load()` function:

    from model import load
    model = load()                 # reads weights.pt next to model.py
    recon = model.reconstruct(x)   # x: images in [0, 1], (B, C, H, W)

`export_zip(store, run_id)` gives the files as zip bytes (for a download button);
`export_dir(store, run_id, out)` writes them to a folder (`python -m engine export RUN_ID --out DIR`), after
`check_out_dir` made sure the folder is outside the checkpoint store and holds no files of those names but an
earlier export's.
"""

from __future__ import annotations

import inspect
import io
import json
import zipfile
from pathlib import Path
from types import ModuleType

import torch

from ..core import losses, models
from ..core.store import Store
from ..data.files import atomic_write

HEADER = '''"""{title}

Exported from the AE & VAE lab (run {run_id}). Standalone: needs only torch.

    from model import load
    model = load()                       # weights.pt next to this file; load(device="cuda") for a GPU
    recon = model.reconstruct(x)         # x: images in [0, 1], shape (B, {shape_s})
    code = model.code(x)                 # the latent code (mu for a VAE), shape (B, {latent_dim})
    images = model.generate(code)        # decode codes back to images in [0, 1]

The network works in its output range: {range_note}. reconstruct/code/generate do that
conversion; call the model itself (model(x_model_range)) for the raw Output(recon, z, mu, logvar).
Below: the engine's losses.py and models.py, verbatim, then this run's config and load().
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
'''

FOOTER = '''

# ---- this run ------------------------------------------------------------------------------------------
CONFIG = {config}
SHAPE = {shape}  # (C, H, W) of one image


def build() -> nn.Module:
    """The untrained network of this run."""
    return build_model(SimpleNamespace(**CONFIG), tuple(SHAPE))


def load(weights: str | Path | None = None, device: str = "cpu") -> nn.Module:
    """The trained network, in eval mode (weights default: weights.pt next to this file)."""
    path = Path(weights) if weights else Path(__file__).with_name("weights.pt")
    model = build()
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return model.to(device).eval()


if __name__ == "__main__":
    m = load()
    x = torch.rand(4, *SHAPE)
    print(type(m).__name__, sum(p.numel() for p in m.parameters()), "parameters;",
          "reconstruction shape", tuple(m.reconstruct(x).shape))
'''


def _body(module: ModuleType) -> str:
    """A module's source without its docstring, `from __future__` line, package-relative imports and
    type-checking-only imports: the part that runs the same when pasted into one standalone file."""
    out, skipping = [], False
    src = inspect.getsource(module)
    doc_end = src.index('"""', 3) + 3 if src.startswith('"""') else 0
    for line in src[doc_end:].splitlines():
        if skipping and line.startswith(" "):
            continue
        skipping = line.startswith("if TYPE_CHECKING:")
        if skipping or line.startswith(("from __future__", "from .")) or "TYPE_CHECKING" in line:
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def model_source(cfg: dict, shape: tuple[int, ...], run_id: str) -> str:
    """The standalone model file for a run."""
    kind = "VAE" if cfg.get("variational") else "autoencoder"
    rng = ("Tanh, images are mapped from [0, 1] to [-1, 1]" if cfg.get("output") == "tanh"
           else "sigmoid, images stay in [0, 1]")
    title = f"{cfg.get('name', 'model')}: {cfg.get('arch')} {kind}, latent size {cfg.get('latent_dim')}"
    head = HEADER.format(title=title, run_id=run_id, shape_s=", ".join(map(str, shape)),
                         latent_dim=cfg.get("latent_dim"), range_note=rng)
    parts = [f"# ---- losses.py {'-' * 88}\n" + _body(losses), f"# ---- models.py {'-' * 88}\n" + _body(models)]
    return head + "\n" + "\n\n\n".join(parts) + "\n" + FOOTER.format(config=_pyrepr(cfg), shape=tuple(shape))


def _pyrepr(d: dict) -> str:
    """The config as a Python literal (JSON's true/false/null spelled for Python), one key per line."""
    lines = ",\n".join(f"    {k!r}: {v!r}" for k, v in d.items())
    return "{\n" + lines + ",\n}"


def files(store: Store, run_id: str) -> dict[str, bytes]:
    """{"model.py", "weights.pt", "config.json", "README.txt"} of a stored run."""
    meta = store.meta(run_id)
    if meta is None and not store.run_dir(run_id).exists():
        raise FileNotFoundError(f"no run '{run_id}' in {store.root}")
    state = store.load_state(run_id)
    if state is None:
        raise FileNotFoundError(f"run {run_id} has no finished epoch yet: nothing to export")
    cfg = store.config(run_id).model_dump(mode="json")
    cfg["hidden"] = tuple(cfg["hidden"])
    shape = tuple(state["shape"])
    buf = io.BytesIO()
    torch.save(state["model"], buf)
    epochs = state.get("epoch")
    readme = (f"Run {run_id}: {cfg['name']}, trained {epochs} epoch(s) on '{cfg['dataset']}'.\n"
              "model.py  standalone model definition + load()  (needs only torch)\n"
              "weights.pt  the state dict (torch.load(..., weights_only=True))\n"
              "config.json  the full training configuration\n\n"
              "In a notebook, in this folder:\n    from model import load\n    model = load()\n"
              "    recon = model.reconstruct(x)  # x in [0, 1], shape (B, " + ", ".join(map(str, shape)) + ")\n")
    return {
        "model.py": model_source(cfg, shape, run_id).encode(),
        "weights.pt": buf.getvalue(),
        "config.json": json.dumps({**cfg, "hidden": list(cfg["hidden"]), "shape": list(shape), "run_id": run_id,
                                   "epochs_trained": epochs}, indent=2).encode(),
        "README.txt": readme.encode(),
    }


def export_zip(store: Store, run_id: str) -> bytes:
    """The exported files as one zip (in a folder named after the run), for st.download_button."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files(store, run_id).items():
            z.writestr(f"{run_id}/{name}", data)
    return buf.getvalue()


EXPORTED = ("model.py", "weights.pt", "config.json", "README.txt")


class ExportError(ValueError):
    """An export folder the files must not be written to; the message (one line) says why."""


def check_out_dir(store: Store, out: str | Path) -> Path:
    """`out` if the export may write there: not inside the checkpoint store (it would overwrite a run's
    config.json), not a file, and without model.py/weights.pt/config.json/README.txt other than an export's."""
    try:
        target = Path(out).resolve()
        if target == store.root.resolve() or store.root.resolve() in target.parents:
            raise ExportError(f"'{out}' is inside the checkpoint store {store.root}: export to a folder outside it")
        if target.exists() and not target.is_dir():
            raise ExportError(f"'{out}' is a file: give --out a folder (it is created if needed)")
        clash = [n for n in EXPORTED if (target / n).exists()]
    except ExportError:
        raise
    except (OSError, ValueError, RuntimeError) as e:  # unreadable, a NUL byte in the path, a symlink loop
        raise ExportError(f"cannot export to '{out}' ({type(e).__name__}): choose another folder") from None
    if clash and not _is_export(target / "config.json"):
        raise ExportError(f"'{out}' already holds {', '.join(clash)} (not from an export): choose an empty folder")
    return target


def _is_export(config: Path) -> bool:
    """Is this config.json one an earlier export wrote (it names its run)?"""
    try:
        d = json.loads(config.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and "run_id" in d and "epochs_trained" in d


def export_dir(store: Store, run_id: str, out: str | Path) -> list[Path]:
    """Write the exported files into `out` (created if needed; see check_out_dir); returns their paths."""
    out = check_out_dir(store, out)
    paths = []
    for name, data in files(store, run_id).items():
        p = out / name
        atomic_write(p, lambda f, d=data: f.write(d))
        paths.append(p)
    return paths
