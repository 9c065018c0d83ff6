"""`python -m engine ising ...`: generate (and cache) 2-D Ising configurations as a dataset."""

from __future__ import annotations

from ..data.ising import IsingParams, cache_path, default_temps, generate, per_temperature
from .common import fail


def _cmd(args) -> int:
    from tqdm import tqdm

    temps = default_temps(args.temps, args.t_min, args.t_max)
    p = IsingParams(L=args.L, temps=temps, per_temp=args.per_temp, chains=args.chains, equil=args.equil,
                    gap=args.gap, seed=args.seed)
    try:
        p.check()
    except ValueError as e:
        return fail(e)
    bar = tqdm(total=1, unit="sweep", desc=p.name)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    data = generate(p, progress, device=None if args.device == "auto" else args.device)
    bar.close()
    for r in per_temperature(data):
        print(f"T={r['T']:.3f}  <|m|>={r['abs_m']:.3f}  E/N={r['energy']:.3f}")
    print(f"dataset '{p.name}': {len(data.spins)} configurations → {cache_path(p)}")
    return 0


def register(sub) -> None:
    d = IsingParams()
    s = sub.add_parser("ising", help="generate (and cache) 2-D Ising configurations as a dataset")
    s.add_argument("--L", type=int, default=d.L, help="lattice size (even)")
    s.add_argument("--temps", type=int, default=len(d.temps), help="number of temperatures")
    s.add_argument("--t-min", type=float, default=min(d.temps))
    s.add_argument("--t-max", type=float, default=max(d.temps))
    s.add_argument("--per-temp", type=int, default=d.per_temp, help="samples per temperature")
    s.add_argument("--chains", type=int, default=d.chains, help="parallel chains per temperature")
    s.add_argument("--equil", type=int, default=d.equil, help="equilibration sweeps")
    s.add_argument("--gap", type=int, default=d.gap, help="sweeps between samples")
    s.add_argument("--seed", type=int, default=d.seed)
    s.add_argument("--device", default="auto")
    s.set_defaults(func=_cmd)
