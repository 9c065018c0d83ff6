"""Hostile input: generated bad uploads, configs and CLI flags. Every one gets a clear one-line message and
raises only the project's own errors; the worker checking an upload stays within a stated memory bound.

The project's own errors, the only ones hostile input may raise (each one line, saying what to change):
    UploadError (engine.data.upload_formats), DataUnavailable (engine.data.registry),
    ConfigError (engine.core.config; pydantic's ValidationError from RunConfig(...) itself, which
    make_config turns into ConfigError), RunIdError, RunLocked, DamagedCheckpoint (engine.core.store),
    DiskFull (engine.data.files), ExportError (engine.teaching.export), JobError (engine.jobs).
Memory: each upload check runs in a fresh process (forked from a driver that imported the engine, so the
baseline is the engine at rest) and its peak RSS may grow by at most PEAK_BOUND_MB.
"""

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from engine.core.config import MAX_SEED, ConfigError, RunConfig, explain, make_config
from engine.core.presets import PRESETS, preset
from engine.core.store import RUN_ID
from engine.core.trainer import EPOCH_SEED_STRIDE, TrainResult
from engine.data.upload_formats import MAX_TOTAL, UploadError
from engine.data.uploads import prepare

ROOT = Path(__file__).resolve().parent.parent
PEAK_BOUND_MB = 300  # above the engine at rest; the largest accepted upload (60,000 28×28 uint8) needs ~210
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "60"))  # e.g. 1000 for a deeper search
FAST = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message, repr(message)


def outcome(filename: str, data: bytes, resize=None) -> None:
    """prepare() accepts (finite data in [0, 1], a consistent split) or refuses with UploadError, nothing else."""
    try:
        p = prepare(filename, data, resize)
    except UploadError as e:
        one_line(str(e))
        return
    x = np.concatenate([p.train_x.numpy(), p.test_x.numpy()])
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert len(p.train_y) == len(p.train_x) and x.size <= MAX_TOTAL and p.shape == x.shape[1:]


def npy_bytes(descr: str, fortran: bool, shape, payload: bytes) -> bytes:
    """An .npy file with any header at all (np.save would refuse most of these)."""
    h = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (descr, fortran, tuple(shape))  # noqa: UP031
    h += " " * (-(len(h) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode("latin1") + payload


def saved(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return b.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width×height pixels and holds almost nothing (a pixel-count bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# ---- uploads: property-based -----------------------------------------------------------------------
DESCRS = ["|u1", "<f8", ">f8", "<f4", "<f2", "|b1", "<i8", ">u8", "<f16", "|O", "<U5", "<c16", "<M8[s]", "|V8",
          "|S3", "<m8", "<i2"]
dims = st.one_of(st.integers(0, 40), st.integers(0, 10**15), st.integers(-5, -1))


@FAST
@given(descr=st.sampled_from(DESCRS), fortran=st.booleans(), shape=st.lists(dims, max_size=5),
       payload=st.binary(max_size=4096), resize=st.sampled_from([None, (28, 28), (512, 512)]))
def test_npy_with_any_header(descr, fortran, shape, payload, resize):
    outcome("x.npy", npy_bytes(descr, fortran, shape, payload), resize)


ARRAY_DTYPES = st.sampled_from([np.uint8, np.int8, np.int64, np.uint64, np.float16, np.float32, np.float64, np.bool_,
                                np.dtype(">f8"), np.dtype("<i2")])


@FAST
@given(a=hnp.arrays(ARRAY_DTYPES, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=14)),
       container=st.sampled_from(["npy", "npz-x", "npz-other", "npz-xy"]), resize=st.sampled_from([None, (28, 28)]))
def test_real_arrays_of_any_dtype_shape_and_values(a, container, resize):
    if container == "npy":
        data = saved(a)
    else:
        b = io.BytesIO()
        arrays = {"x": a} if container == "npz-x" else {"q": a, "r": a} if container == "npz-other" else \
            {"x": a, "y": np.arange(len(a)) % 3 if a.ndim else a}
        np.savez_compressed(b, **arrays)
        data = b.getvalue()
    outcome(f"a.{container[:3]}", data, resize)


@FAST
@given(a=hnp.arrays(np.float64, st.tuples(st.integers(10, 30), st.integers(1, 6)),
                    elements=st.sampled_from([1.7976931348623157e308, -1.7976931348623157e308, 0.0, 5e-324, -1.0])))
def test_values_at_the_ends_of_float64_scale_to_finite_numbers(a):
    p = prepare("big.npy", saved(a))
    assert np.isfinite(p.train_x.numpy()).all() and np.isfinite(p.test_x.numpy()).all()


cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**30, 10**30).map(str),
                  st.text(alphabet='0123456789.-+e,"\n\r xnaif_', max_size=8))


@FAST
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=6), max_size=40), header=st.booleans(),
       sep=st.sampled_from(["\n", "\r\n", "\r"]), junk=st.binary(max_size=16))
def test_any_csv(rows, header, sep, junk):
    text = sep.join(",".join(r) for r in ([["a", "label"]] if header else []) + rows)
    outcome("v.csv", text.encode() + junk)


NAMES = ["../evil.png", "/abs.png", "C:/x.png", "a/../../b.png", "ok.png", "d/ok.png", "x.jpg", "\x00.png",
         "ünï.png", ".hidden.png", "__MACOSX/a.png", "a\nb.png", "dir/"]


@FAST
@given(members=st.dictionaries(st.sampled_from(NAMES) | st.text(min_size=1, max_size=12),
                               st.sampled_from(["png", "big-png", "garbage", "empty"]), max_size=14),
       stored=st.booleans(), resize=st.sampled_from([None, (28, 28)]))
def test_zips_of_anything(members, stored, resize):
    content = {"png": None, "big-png": png_header(60_000, 60_000), "garbage": b"\x89PNG\r\n garbage", "empty": b""}
    img = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    files = {n: content[c] if content[c] is not None else buf.getvalue() for n, c in members.items()}
    try:
        data = zipped(files, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    except (ValueError, UnicodeEncodeError, IndexError):  # names zipfile itself cannot write
        return
    outcome("z.zip", data, resize)


@pytest.mark.parametrize("name,data", [
    ("x.npy", b"\x93NUMPY\x03\x00" + b"\0" * 50),  # a version np.save never writes for numbers
    ("x.npy", b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 100),  # a header longer than the file
    ("x.npz", b"PK\x03\x04" + b"\0" * 100),  # not really a zip
    ("x.npz", b"PK\x01\x02" * 100 + b"PK\x03\x04"),  # claims many entries
    ("x.zip", zipped({f"{i}.png": b"" for i in range(50)})),
    ("x.csv", b"\xff\xfe\x00garbage"),
    ("x.csv", b"1,2\n" * 5 + b"1," * 200_000 + b"\n"),  # a line over the limit
    ("x.txt", b"label\n" + b"1\n" * 20),  # only a label column: zero-width data
])
def test_assorted_bad_files(name, data):
    with pytest.raises(UploadError) as e:
        prepare(name, data)
    one_line(str(e.value))


# ---- uploads: memory, each check in a fresh process ------------------------------------------------------
DRIVER = r"""
import json, os, re, resource, sys
from engine.data.uploads import prepare
for line in sys.stdin:
    case = json.loads(line)
    data = open(case["path"], "rb").read()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a fresh process: its peak RSS starts at the driver's current RSS
        os.close(r)
        vm = int(re.search(r"VmSize:\s+(\d+)", open("/proc/self/status").read()).group(1)) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 3 * 2**30, resource.RLIM_INFINITY))  # a runaway fails here
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            p = prepare(case["name"], data, tuple(case["resize"]) if case["resize"] else None)
            out = {"error": None, "message": p.note}
        except BaseException as e:
            p, out = None, {"error": type(e).__name__, "message": str(e)}
        out["peak_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024  # before checking p
        if p is not None:
            out["finite"] = all(bool(t.isfinite().all()) for t in p.train_x.split(1000))
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    print(json.dumps({**case, **json.loads(b"".join(chunks) or b'{"error": "died"}')}), flush=True)
"""


def _hostile_files(d: Path) -> list[dict]:
    """The uploads of the issue, and a few more; (file, name, resize, what must happen)."""
    def put(name: str, data: bytes, expect: str, resize=None) -> dict:
        (d / name).write_bytes(data)
        return {"path": str(d / name), "name": name, "resize": resize, "expect": expect}

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z, z.open("x.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (80_000, 28, 28)})
        for _ in range(80_000 * 784 // 2**20):
            f.write(bytes(2**20))
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w", zipfile.ZIP_STORED) as z:
        for i in range(150_000):
            z.writestr(f"{i}.png", b"")
    rng = np.random.default_rng(0)
    extreme = rng.uniform(-1, 1, (100, 10)) * 1.79e308
    return [
        put("bomb.npz", bomb.getvalue(), "expands"),  # 60 MB of zeros in 60 kB: ~1000×
        put("rows.csv", b"1\n" * 5_000_000, "more than 100,000 rows"),
        put("line.csv", b"0," * 20_000_000 + b"0\n", "longer than"),
        put("tiny.npy", saved(np.zeros((100_000, 2, 2), np.uint8)), "more than 50,000,000", resize=[28, 28]),
        put("header.npy", npy_bytes("<f8", False, (10**7, 10**7), b"\0" * 64), "declares 100,000,000,000,000"),
        put("zerowidth.npy", saved(np.zeros((100, 0))), "no numbers"),
        put("extreme.npy", saved(extreme), "ACCEPT"),
        put("entries.zip", many.getvalue(), "more than 101,000 files"),
        put("pixels.zip", zipped({"a.png": png_header(5000, 5000)}), "too large"),
        put("bomb.png.zip", zipped({"a.png": png_header(60_000, 60_000)}), "too large"),
        put("largest.npy", saved(rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8)), "ACCEPT"),
    ]


def test_hostile_uploads_stay_within_the_memory_bound(tmp_path):
    cases = _hostile_files(tmp_path)
    p = subprocess.run([sys.executable, "-c", DRIVER], cwd=ROOT, input="".join(json.dumps(c) + "\n" for c in cases),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    results = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(results) == len(cases)
    for r in results:
        print(f"{r['name']:14s} peak +{r['peak_mb']:6.1f} MB  {r['error'] or 'accepted'}: {r['message'][:90]}")
    for r in results:
        assert r["peak_mb"] <= PEAK_BOUND_MB, r
        one_line(r["message"])
        if r["expect"] == "ACCEPT":
            assert r["error"] is None and r["finite"], r
        else:
            assert r["error"] == "UploadError" and r["expect"] in r["message"], r


# ---- configs ---------------------------------------------------------------------------------------------
HOSTILE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**40, 10**40),
                    st.sampled_from([2**63, 2**64, -(2**63), MAX_SEED + 1, 10**400, True, None, "", "nan", "../x"]),
                    st.text(max_size=30), st.lists(st.integers(-10**20, 10**20), max_size=12),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
FIELDS = st.sampled_from([*RunConfig.model_fields, "unknown_field", "__class__", "hidden_sizes"])


@FAST
@given(fields=st.dictionaries(FIELDS, HOSTILE, min_size=1, max_size=4), name=st.sampled_from(list(PRESETS)))
def test_hostile_configs_give_one_line_and_only_config_errors(fields, name):
    overrides = {k: v for k, v in fields.items() if k != "name"}  # preset(name, ...) names the preset
    for build in (lambda: make_config(**fields), lambda: preset(name, **overrides)):
        try:
            cfg = build()
        except ConfigError as e:
            one_line(str(e))
            continue
        assert RUN_ID.fullmatch(cfg.run_id())
        assert cfg.seed * EPOCH_SEED_STRIDE + cfg.epochs < 2**63  # every seed the trainer derives fits torch
        json.dumps(cfg.identity(), allow_nan=False)
    try:
        RunConfig(**fields)
    except ValidationError as e:
        one_line(explain(e))


@pytest.mark.parametrize("hidden", [(10**6,), (0,), (-1,), (10**100,), (8193,), (64,) * 9, (2**63,)])
def test_absurd_hidden_sizes_are_refused(hidden):
    with pytest.raises(ConfigError, match="hidden"):
        make_config(hidden=hidden)


# ---- CLI flags -------------------------------------------------------------------------------------------
FLAGS = ["--epochs", "--beta", "--latent-dim", "--dataset", "--device", "--lr", "--batch-size", "--seed",
         "--train-limit", "--preset"]
VALUES = st.one_of(st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e999", str(2**64), str(MAX_SEED + 1),
                                    "../../etc", "x\ny", "\x1b[31m", "", "1_0", "0x10", "seed-vae"]),
                   st.integers(-10**30, 10**30).map(str), st.text(max_size=12))


@pytest.fixture
def no_training(monkeypatch):
    """`train` replaced by a stub: a flag set that is valid does not start a real run."""
    from engine.core import trainer

    monkeypatch.setattr(trainer, "train", lambda cfg, *a, **kw: TrainResult(cfg.run_id(), "-", False, "completed", 1))


@FAST
@given(flags=st.lists(st.tuples(st.sampled_from(FLAGS), VALUES), max_size=3))
def test_hostile_train_flags_exit_2_with_one_line(flags, tmp_path, capsys, no_training):
    from engine.cli import main

    argv = ["--checkpoints", str(tmp_path / "ck"), "train", "--preset", "seed-vae", "--quiet"]
    for flag, value in flags:
        argv += [f"{flag}={value}"]
    try:
        code = main(argv)
    except SystemExit as e:  # argparse exits itself
        code = e.code
    out = capsys.readouterr()
    assert code in (0, 2), (argv, out.err)
    if code == 2:
        lines = out.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, out.err)


BAD_COMMANDS = [
    ("train", "--preset", "seed-vae", "--seed", str(2**64)),
    ("train", "--preset", "seed-vae", "--dataset", "../../etc"),
    ("train", "--preset", "x\ny"),
    ("train", "--preset", "seed-vae", "--beta", "nan"),
    ("train", "--preset", "seed-vae", "--epochs", "1", "--bogus\nflag"),
    ("export", "../../etc", "--out", "o"),
    ("export", "0123456789ab-e1", "--out", "bad\x00path"),
    ("lesson", "x\ny"),
    ("train", "--preset", "seed-vae", "--train-limit", str(10**30)),
]


@pytest.mark.parametrize("args", BAD_COMMANDS)
def test_bad_commands_exit_2_with_one_line(args, tmp_path, capsys, no_training):
    from engine.cli import main

    try:
        code = main(["--checkpoints", str(tmp_path / "ck"), *args])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    assert code == 2 and out.out == ""
    assert len(out.err.splitlines()) == 1 and out.err.startswith("error: "), out.err


def test_bad_flags_in_real_processes_never_print_a_traceback(tmp_path):
    """`python -m engine` itself, a few at once (each starts torch): exit 2, one line, no traceback."""
    commands = [("--checkpoints", str(tmp_path / "ck"), *BAD_COMMANDS[0]),
                ("--checkpoints", str(tmp_path / "ck"), *BAD_COMMANDS[2]),
                ("--checkpoints", "/proc/version", "train", "--preset", "seed-vae", "--epochs", "1")]
    procs = [subprocess.Popen([sys.executable, "-m", "engine", *args], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in commands]
    for args, p in zip(commands, procs, strict=True):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 2, (args, err)
        assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, (args, err)
        assert out == ""
