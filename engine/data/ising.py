"""2-D Ising configurations as a dataset: the physics case (after Wetzel, Phys. Rev. E 96, 022140 (2017)).

H = -sum_<ij> s_i s_j on a periodic L×L lattice (J = 1, k_B = 1), critical point T_c = 2/ln(1+√2) ≈ 2.269.
Sampling is checkerboard Metropolis, vectorised in torch: every chain of every temperature is one row of
a batch, and each half-sweep updates all sites of one colour at once (they do not interact), on the GPU
when there is one. Chains below T_c start ordered, above T_c random; after `equil` sweeps a sample is
taken every `gap` sweeps. H is symmetric under s → -s, so each stored sample gets a random global sign
(an exact Monte Carlo move that Metropolis alone would need exponentially long to make at low T).

Generated sets are cached under data_root()/ising/<hash>.pt (and their parameters in <hash>.json), keyed by their
parameters; a file lock per set (ising/locks/) makes concurrent requests for one set sample it once. The dataset
"ising" is the default parameters; "ising-<hash>" is any other set once generated.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import filelock
import torch

from .files import atomic_write, read_json, write_json
from .registry import Dataset, add_resolver, data_root, register

TC = 2 / math.log(1 + math.sqrt(2))
Progress = Callable[[int, int], None]  # (sweeps done, sweeps total)


def default_temps(n: int = 16, lo: float = 1.0, hi: float = 3.5) -> tuple[float, ...]:
    if n <= 1:
        return (float(lo),)
    return tuple(round(lo + (hi - lo) * i / (n - 1), 4) for i in range(n))


@dataclass(frozen=True)
class IsingParams:
    L: int = 28  # 28 so the lecture's CNN (28×28) works on it too
    temps: tuple[float, ...] = field(default_factory=default_temps)
    per_temp: int = 200  # samples per temperature
    chains: int = 50  # independent chains per temperature
    equil: int = 800  # sweeps before the first sample
    gap: int = 10  # sweeps between samples of one chain
    seed: int = 0

    def check(self) -> None:
        """Raise ValueError with a one-line message for settings that cannot work."""
        if self.L < 4 or self.L % 2 or self.L > 256:
            raise ValueError(f"lattice size L must be even and between 4 and 256 (checkerboard updates), got {self.L}")
        if not self.temps or any(not (0 < t <= 100) for t in self.temps):
            raise ValueError(f"temperatures must be > 0 and ≤ 100, got {list(self.temps)}")
        if not (1 <= self.per_temp <= 10_000):
            raise ValueError(f"samples per temperature must be between 1 and 10000, got {self.per_temp}")
        if not (1 <= self.chains <= 10_000):
            raise ValueError(f"chains per temperature must be between 1 and 10000, got {self.chains}")
        if self.equil < 0 or self.gap < 1:
            raise ValueError("equilibration sweeps must be ≥ 0 and the gap between samples ≥ 1")

    def key(self) -> str:
        d = asdict(self)
        d["temps"] = [float(t) for t in self.temps]
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        """The dataset name a RunConfig uses for this set."""
        return "ising" if self == IsingParams() else f"ising-{self.key()}"


@dataclass
class IsingSet:
    params: IsingParams
    spins: torch.Tensor  # int8 ±1, (N, L, L)
    temp_index: torch.Tensor  # long (N,)

    @property
    def T(self) -> torch.Tensor:
        return torch.tensor(self.params.temps, dtype=torch.float32)[self.temp_index]

    @property
    def m(self) -> torch.Tensor:
        """Magnetization per spin of each sample."""
        return self.spins.float().mean((1, 2))

    @property
    def energy(self) -> torch.Tensor:
        return energy_per_spin(self.spins.float())


# ---- physics ---------------------------------------------------------------------------------------
def energy_per_spin(s: torch.Tensor) -> torch.Tensor:
    """E/N = -(1/N) sum over bonds s_i s_j of each configuration in a batch (B, L, L), periodic."""
    return -(s * (torch.roll(s, 1, -1) + torch.roll(s, 1, -2))).mean((-2, -1))


def checkerboard(L: int, device: torch.device | str = "cpu") -> torch.Tensor:
    i = torch.arange(L, device=device)
    return ((i[:, None] + i[None, :]) % 2 == 0)


def sweep(s: torch.Tensor, beta: torch.Tensor, mask: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One Metropolis sweep of every chain: two half-sweeps, one per checkerboard colour.

    s: (B, L, L) float ±1; beta: (B, 1, 1) inverse temperatures; mask: (L, L) bool colour 0.
    A flip costs ΔE = 2 s_i Σ_neighbours s_j; it is accepted with probability min(1, exp(-β ΔE)).
    """
    for colour in (mask, ~mask):
        nb = torch.roll(s, 1, -1) + torch.roll(s, -1, -1) + torch.roll(s, 1, -2) + torch.roll(s, -1, -2)
        u = torch.rand(s.shape, generator=gen, device=s.device)
        flip = (u < torch.exp(-2 * beta * s * nb)) & colour
        s = torch.where(flip, -s, s)
    return s


def sample(params: IsingParams, device: str | torch.device | None = None,
           progress: Progress | None = None) -> IsingSet:
    """Run all chains of all temperatures as one batch; return per_temp samples per temperature."""
    params.check()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    L, nt, c = params.L, len(params.temps), params.chains
    per_chain = math.ceil(params.per_temp / c)
    gen = torch.Generator(device=device).manual_seed(params.seed)
    temps = torch.tensor(params.temps, dtype=torch.float32, device=device).repeat_interleave(c)  # (nt*c,)
    beta = (1 / temps)[:, None, None]
    rnd = torch.randint(0, 2, (nt * c, L, L), generator=gen, device=device).float() * 2 - 1
    sign = torch.randint(0, 2, (nt * c, 1, 1), generator=gen, device=device).float() * 2 - 1
    ordered = (temps < TC)[:, None, None]
    s = torch.where(ordered, sign.expand_as(rnd), rnd)
    mask = checkerboard(L, device)

    total = params.equil + per_chain * params.gap
    out = []
    done = 0
    with torch.no_grad():
        for k in range(total):
            s = sweep(s, beta, mask, gen)
            done += 1
            if k >= params.equil and (k - params.equil + 1) % params.gap == 0:
                flip = torch.randint(0, 2, (nt * c, 1, 1), generator=gen, device=device).float() * 2 - 1
                out.append((s * flip).to(torch.int8))
            if progress is not None and (done % 10 == 0 or done == total):
                progress(done, total)
    # (per_chain, nt*c, L, L) -> per temperature: chain-major, then keep the first per_temp.
    x = torch.stack(out).view(per_chain, nt, c, L, L).permute(1, 2, 0, 3, 4).reshape(nt, c * per_chain, L, L)
    x = x[:, : params.per_temp].reshape(-1, L, L).cpu()
    idx = torch.arange(nt).repeat_interleave(params.per_temp)
    return IsingSet(params, x, idx)


# ---- cache and dataset -----------------------------------------------------------------------------
def cache_dir() -> Path:
    return data_root() / "ising"


def cache_path(params: IsingParams) -> Path:
    return cache_dir() / f"{params.key()}.pt"


def _from_file(path: Path) -> IsingSet:
    d = torch.load(path, map_location="cpu", weights_only=True)
    p = dict(d["params"])
    p["temps"] = tuple(p["temps"])
    return IsingSet(IsingParams(**p), d["spins"], d["temp_index"])


def generate(params: IsingParams | None = None, progress: Progress | None = None,
             device: str | torch.device | None = None, use_cache: bool = True) -> IsingSet:
    """The set for `params`, from the disk cache if it was generated before (else sampled and cached).
    One process at a time samples a given set (a file lock per set): the others wait and read its file."""
    params = params or IsingParams()
    params.check()
    path = cache_path(params)
    (cache_dir() / "locks").mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(cache_dir() / "locks" / f"{params.key()}.lock"):
        if use_cache and path.exists():
            if progress is not None:
                progress(1, 1)
            return _from_file(path)
        data = sample(params, device, progress)
        p = {**asdict(params), "temps": list(params.temps)}
        atomic_write(path, lambda f: torch.save({"params": p, "spins": data.spins, "temp_index": data.temp_index}, f))
        write_json(path.with_suffix(".json"), p)  # the parameters alone, for listing the sets cheaply
    if params != IsingParams():
        register(params.name, lambda: to_dataset(_from_file(path)))
    return data


def cost(params: IsingParams) -> int:
    """Spin updates sampling `params` takes (about 2e7 per second on one CPU core): what a request costs."""
    sweeps = params.equil + math.ceil(params.per_temp / params.chains) * params.gap
    return len(params.temps) * params.chains * params.L * params.L * sweeps


def generated() -> list[IsingParams]:
    """The parameters of every set generated on this data folder, newest first."""
    files = sorted(cache_dir().glob("*.pt"), key=_mtime, reverse=True) if cache_dir().exists() else []
    out = []
    for path in files:
        try:
            p = read_json(path.with_suffix(".json")) if path.with_suffix(".json").exists() else _from_file(path).params
            out.append(p if isinstance(p, IsingParams) else IsingParams(**{**p, "temps": tuple(p["temps"])}))
        except (OSError, ValueError, TypeError, KeyError, RuntimeError):  # damaged or half-removed: not listed
            continue
    return out


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def is_cached(params: IsingParams | None = None) -> bool:
    return cache_path(params or IsingParams()).exists()


def pending_shape(name: str) -> tuple[int, ...] | None:
    """The image shape of dataset `name` when it is the default set "ising" and not generated yet, else None.
    Loading that name samples the set (~25 s of one core): a page checking a run's settings uses this shape
    instead and leaves the sampling to the training job, which runs under the job backend's limits."""
    if name != "ising" or is_cached():
        return None
    return (1, IsingParams().L, IsingParams().L)


HELDOUT_FRACTION = 1 / 6


def split(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, held-out indices): a fixed shuffle, so held-out images mix all temperatures."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = max(1, round(n * HELDOUT_FRACTION))
    return perm[k:], perm[:k]


def to_dataset(data: IsingSet) -> Dataset:
    """Spins ±1 → images in {0, 1} shaped (N, 1, L, L); the label is the temperature index."""
    x = ((data.spins.float() + 1) / 2).unsqueeze(1)
    tr, te = split(len(x), data.params.seed)
    p = data.params
    note = (f"2-D Ising configurations, {p.L}×{p.L} periodic, {len(p.temps)} temperatures "
            f"{min(p.temps):g}–{max(p.temps):g} (T_c ≈ {TC:.3f}), {p.per_temp} per temperature "
            f"(checkerboard Metropolis, {p.equil} equilibration sweeps, a sample every {p.gap}).")
    return Dataset(p.name, x[tr], data.temp_index[tr], x[te], data.temp_index[te], note,
                   [f"T={t:.2f}" for t in p.temps])


def heldout(data: IsingSet) -> IsingSet:
    """The held-out part, in the order the dataset's test_x has it."""
    _, te = split(len(data.spins), data.params.seed)
    return IsingSet(data.params, data.spins[te], data.temp_index[te])


def resolve(name: str) -> Callable[[], Dataset] | None:
    """Loader for "ising" (generated on first use) or "ising-<hash>" (only if already on disk)."""
    if name == "ising":
        return lambda: to_dataset(generate(IsingParams()))
    key = name.removeprefix("ising-")
    if not name.startswith("ising-") or not _is_key(key) or key == IsingParams().key():  # the default is "ising"
        return None  # checked before any path is built from the name
    path = cache_dir() / f"{key}.pt"
    if not path.exists():
        return None
    return lambda: to_dataset(_from_file(path))


def _is_key(key: str) -> bool:
    """12 lowercase hex digits: IsingParams.key(), the only file names under ising/ a name may point to."""
    return len(key) == 12 and all(c in "0123456789abcdef" for c in key)


def register_cached() -> list[str]:
    """Register every generated set on disk as "ising-<hash>" (so dataset lists show them after a restart)."""
    names = []
    for path in sorted(cache_dir().glob("*.pt")) if cache_dir().exists() else []:
        name = f"ising-{path.stem}"
        loader = resolve(name)
        if loader is not None:
            register(name, loader)
            names.append(name)
    return names



def per_temperature(data: IsingSet) -> list[dict]:
    """Mean |m| and energy per spin at each temperature (the physics the model should find)."""
    rows = []
    m, e = data.m.abs(), data.energy
    for k, t in enumerate(data.params.temps):
        sel = data.temp_index == k
        rows.append({"T": float(t), "abs_m": float(m[sel].mean()), "energy": float(e[sel].mean()),
                     "n": int(sel.sum())})
    return rows

register("ising", lambda: to_dataset(generate(IsingParams())))  # listed among the datasets; generated on first use
add_resolver(resolve)
