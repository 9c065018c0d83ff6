"""Reading an upload's bytes into one numeric array, within fixed limits, headers first.

Every format is checked before anything big is allocated: a zip's member count (a signature count over
the bytes, before zipfile parses its central directory) and each member's declared sizes; an .npy/.npz
array's shape, dtype and declared size (from its header, before its data is read); a CSV line by line,
stopping at the first line over a limit. What fails raises UploadError with one line saying what to change.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from pathlib import PurePosixPath
from typing import IO

import numpy as np

MAX_BYTES = 50 * 2**20  # uploaded file
MAX_UNZIPPED = 200 * 2**20  # all image files in a zip together
MAX_MEMBER = MAX_BYTES  # one image file in a zip, unzipped
MAX_RATIO = 200  # uncompressed / compressed size of one zip member (bombs are ~1000×)
MAX_SAMPLES = 100_000
MIN_SAMPLES = 10
MAX_FEATURES = 128 * 128 * 3  # numbers per sample
MAX_IMAGE_PIXELS = 4096 * 4096  # refuse to decode anything larger
MAX_TOTAL = 50_000_000  # numbers in the whole dataset (200 MB as float32)
MAX_ARRAY_BYTES = 64 * 2**20  # one array of an .npy/.npz, as stored (uncompressed)
MAX_NPZ_MEMBERS = 64
MAX_CSV_NUMBERS = 10_000_000  # parsed as float64: 80 MB
MAX_CSV_LINE = 40 * MAX_FEATURES  # characters in one CSV line
IMAGE_EXT = {".png", ".jpg", ".jpeg"}
IMAGE_FORMATS = ("PNG", "JPEG")  # the only decoders PIL may use, whatever a file's name says
LABEL_COLUMNS = ("label", "labels", "y", "class", "target")
ARRAY_KEYS = ("x", "images", "data", "x_train", "arr_0")
LABEL_KEYS = ("y", "labels", "label", "y_train", "arr_1")


class UploadError(ValueError):
    """A rejected upload; the message (one line) says what to change."""


def shown(name: str, n: int = 60) -> str:
    """A file or member name as it may appear in a one-line message: printable, at most n characters."""
    s = "".join(c if c.isprintable() else "?" for c in str(name))
    return s if len(s) <= n else s[: n - 1] + "…"


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def _open_zip(data: bytes, max_entries: int, what: str) -> zipfile.ZipFile:
    """The zip, once its entry count is known to be small: zipfile builds an object per entry up front."""
    if data.count(b"PK\x01\x02") > max_entries:  # central directory signatures (an upper bound of the entries)
        raise UploadError(f"the {what} holds more than {max_entries:,} files: upload fewer")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise UploadError(f"this is not a readable {what}: save it again") from None


def _check_member(info: zipfile.ZipInfo, limit: int) -> None:
    """Refuse a member by its declared sizes, before unzipping it."""
    name = shown(info.filename)
    if info.flag_bits & 0x1:
        raise UploadError("the zip is encrypted: zip the files without a password")
    if info.file_size > limit:
        raise UploadError(f"'{name}' is {_mb(info.file_size)} unzipped, at most {_mb(limit)} are allowed")
    if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise UploadError(f"'{name}' expands {info.file_size // max(info.compress_size, 1)}× when unzipped "
                          "(a zip bomb?): upload ordinary files")


# ---- a zip of PNG/JPG images -------------------------------------------------------------------------
def _safe_member(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return not (p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]))


def _image_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members, total = [], 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        if not _safe_member(info.filename):
            raise UploadError(f"unsafe path inside the zip: '{shown(info.filename)}' (absolute or with '..'); "
                              "zip the images again")
        p = PurePosixPath(info.filename)
        if any(part.startswith(".") or part == "__MACOSX" for part in p.parts) or p.suffix.lower() not in IMAGE_EXT:
            continue
        _check_member(info, MAX_MEMBER)
        total += info.file_size
        if total > MAX_UNZIPPED:
            raise UploadError(f"the images add up to more than {MAX_UNZIPPED // 2**20} MB unzipped: "
                              "upload fewer or smaller images")
        members.append(info)
    if not members:
        raise UploadError("no .png/.jpg/.jpeg images found in the zip")
    if len(members) > MAX_SAMPLES:
        raise UploadError(f"the zip holds {len(members)} images, at most {MAX_SAMPLES} are allowed")
    return sorted(members, key=lambda i: i.filename)


def _decode(zf: zipfile.ZipFile, info: zipfile.ZipInfo, resize: tuple[int, int] | None):
    from PIL import Image

    name = shown(info.filename)
    try:
        with zf.open(info) as f:
            raw = f.read(info.file_size + 1)  # never more than the header promised
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as e:
        raise UploadError(f"'{name}' cannot be unzipped ({type(e).__name__}): zip the images again") from None
    if len(raw) > info.file_size:
        raise UploadError(f"'{name}' is larger than its zip header says: zip the images again")
    try:
        with Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise UploadError(f"'{name}' is {im.width}×{im.height} pixels: too large, resize it first")
            im.load()
            im = im.convert("L" if im.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB")
    except UploadError:
        raise
    except Image.DecompressionBombError:  # PIL's own limit, for sizes far beyond ours
        raise UploadError(f"'{name}' declares more than {MAX_IMAGE_PIXELS:,} pixels: too large, "
                          "resize it first") from None
    except Exception as e:  # noqa: BLE001 - hostile bytes can make a decoder raise anything: the image is bad
        raise UploadError(f"'{name}' could not be decoded as an image ({type(e).__name__}): "
                          "remove it or save it again as PNG/JPG") from None
    return im.resize((resize[1], resize[0]), Image.Resampling.BILINEAR) if resize else im


def _decode_all(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], resize: tuple[int, int] | None) -> list:
    """The images, decoded one at a time, stopping as soon as they hold more than MAX_TOTAL pixel values."""
    imgs, pixels = [], 0
    for info in members:
        im = _decode(zf, info, resize)
        pixels += im.width * im.height * (3 if im.mode == "RGB" else 1)
        if pixels > MAX_TOTAL:
            raise UploadError(f"the images hold more than {MAX_TOTAL:,} pixel values in all: "
                              "upload fewer or smaller images (or tick 'resize to 28×28')")
        imgs.append(im)
    return imgs


def read_zip(data: bytes, resize: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(uint8 images (N, C, H, W), labels, class names from sub-folders, notes) of a zip of PNG/JPG files."""
    with _open_zip(data, MAX_SAMPLES + 1000, "zip file (PNG or JPG inside)") as zf:
        members = _image_members(zf)
        imgs = _decode_all(zf, members, resize)
    folders = sorted({str(PurePosixPath(i.filename).parent) for i in members})
    classes = folders if len(folders) > 1 else []
    labels = [folders.index(str(PurePosixPath(i.filename).parent)) if classes else 0 for i in members]
    sizes = sorted({im.size for im in imgs})
    if len(sizes) > 1:
        listed = ", ".join(f"{w}×{h}" for w, h in sizes[:3])
        raise UploadError(f"the images have different sizes ({listed}, ...): "
                          "tick 'resize to 28×28' or make them one size")
    w, h = sizes[0]
    colour = any(im.mode == "RGB" for im in imgs)
    if colour:
        arr = np.stack([np.asarray(im.convert("RGB")) for im in imgs]).transpose(0, 3, 1, 2)
        if (arr == arr[:, :1]).all():  # colour files holding gray pictures
            arr, colour = arr[:, :1], False
    else:
        arr = np.stack([np.asarray(im) for im in imgs])[:, None]
    notes = [f"{len(imgs)} images, {w}×{h}, {'colour' if colour else 'grayscale'}"]
    return arr, np.asarray(labels), classes, notes


# ---- .npy and .npz arrays: headers first -------------------------------------------------------------
def _header(fp: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from an .npy header, reading nothing after it."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise UploadError(f"{where} is an .npy file of version {version}: save it with np.save")
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read(fp)
    except UploadError:
        raise
    except (ValueError, TypeError, EOFError, OSError, SyntaxError, zipfile.BadZipFile):
        raise UploadError(f"{where} is not a readable .npy array: save it with np.save or np.savez") from None
    return tuple(shape), bool(fortran), dtype


def _check_declared(shape: tuple[int, ...], dtype: np.dtype, available: int, where: str) -> None:
    """Refuse an array by what its header declares, before a byte of its data is read."""
    if dtype.hasobject:
        raise UploadError(f"{where} holds Python objects (it needs pickle, which is refused): "
                          "save a numeric array with np.save / np.savez")
    if dtype.kind not in "biuf" or dtype.itemsize == 0:
        raise UploadError(f"the data must be numbers, got dtype {shown(str(dtype), 30)} in {where}: "
                          "save a numeric (int/float) array")
    if any(d < 0 for d in shape):
        raise UploadError(f"{where} declares a negative size {shape}: save it again with np.save")
    count = math.prod(shape)  # Python ints: a declared 10**14 items cannot overflow here
    if count * dtype.itemsize > available:
        raise UploadError(f"{where} declares {count:,} values of {dtype.itemsize} bytes but holds only "
                          f"{_mb(available)} of data (truncated?): save it again with np.save")
    if count > MAX_TOTAL:
        raise UploadError(f"{where} holds {count:,} numbers, more than {MAX_TOTAL:,} in all: upload a subset")
    if count * dtype.itemsize > MAX_ARRAY_BYTES:
        raise UploadError(f"{where} is {_mb(count * dtype.itemsize)} as stored, at most {_mb(MAX_ARRAY_BYTES)}: "
                          "save it as uint8 (0–255) or float32, or upload a subset")


def _npy(data: bytes, where: str) -> np.ndarray:
    """An .npy file's array, without copying its data out of `data` (read-only)."""
    fp = io.BytesIO(data)
    shape, fortran, dtype = _header(fp, where)
    offset = fp.tell()
    _check_declared(shape, dtype, len(data) - offset, where)
    flat = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


def _npz_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, labels_for: int | None = None) -> np.ndarray:
    """One array of an .npz (labels_for: the number of samples, when this array holds their labels)."""
    where = f"array '{shown(info.filename.removesuffix('.npy'), 30)}' of the .npz"
    _check_member(info, MAX_ARRAY_BYTES + 2**16)
    with zf.open(info) as f:
        shape, _, dtype = _header(f, where)
        _check_declared(shape, dtype, info.file_size - f.tell(), where)
    if labels_for is not None and shape != (labels_for,):
        raise UploadError(f"labels must be one per sample: got shape {shape} for {labels_for} samples")
    try:
        with zf.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as e:
        raise UploadError(f"{where} cannot be read ({type(e).__name__}): save it again with np.savez") from None


def _pick(keys: list[str], names: tuple[str, ...]) -> str | None:
    for n in names:
        for k in keys:
            if k.lower() == n:
                return k
    return None


def read_array(filename: str, data: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """(data, labels or None, notes) of an .npy or .npz file; never unpickles anything."""
    if data.startswith(b"\x93NUMPY"):
        return _npy(data, f"'{shown(filename)}'"), None, []
    if not data.startswith(b"PK\x03\x04"):
        raise UploadError(f"'{shown(filename)}' is not a readable .npy/.npz file: save it with np.save or np.savez")
    with _open_zip(data, MAX_NPZ_MEMBERS, ".npz file") as zf:
        members = {i.filename.removesuffix(".npy"): i for i in zf.infolist() if not i.is_dir()}
        if not members:
            raise UploadError("the .npz file holds no arrays")
        keys = list(members)
        xk = _pick(keys, ARRAY_KEYS) or (keys[0] if len(keys) == 1 else None)
        if xk is None:
            listed = ", ".join(f"'{shown(k, 20)}'" for k in keys[:5]) + (", ..." if len(keys) > 5 else "")
            raise UploadError(f"the .npz has arrays {listed}: name the data 'x' (and labels 'y')")
        yk = _pick(keys, LABEL_KEYS)
        yk = None if yk == xk else yk
        x = _npz_member(zf, members[xk])
        y = _npz_member(zf, members[yk], labels_for=len(x) if x.ndim else 0) if yk else None
    return x, y, [f"data from '{shown(xk, 20)}'" + (f", labels from '{shown(yk, 20)}'" if yk else "")]


# ---- a CSV of vectors, streamed ----------------------------------------------------------------------
def _isfloat(c: str) -> bool:
    try:
        float(c)
        return True
    except ValueError:
        return False


def _csv_rows(data: bytes):
    """(line number, cells) of each non-blank CSV line, refusing a line over MAX_CSV_LINE characters."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    lineno = 0
    while True:
        try:
            line = text.readline(MAX_CSV_LINE + 1)
        except UnicodeDecodeError:
            raise UploadError("the CSV is not UTF-8 text: save it as a plain UTF-8 CSV") from None
        if not line:
            return
        lineno += 1
        if len(line) > MAX_CSV_LINE:
            raise UploadError(f"line {lineno} of the CSV is longer than {MAX_CSV_LINE:,} characters: "
                              f"at most {MAX_FEATURES:,} numbers per row")
        try:
            cells = next(csv.reader([line]), [])
        except csv.Error as e:
            raise UploadError(f"line {lineno} of the CSV cannot be read ({shown(str(e))})") from None
        if any(c.strip() for c in cells):
            yield lineno, cells


def read_csv(data: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """(vectors (N, D) float64, labels or None, notes) of a CSV, read line by line up to the limits."""
    header: list[str] | None = None
    rows: list[np.ndarray] = []
    width = 0
    for lineno, cells in _csv_rows(data):
        if header is None and not rows and not all(_isfloat(c) for c in cells):
            header, width = [c.strip() for c in cells], len(cells)
            continue
        width = width or len(cells)
        if len(cells) != width:
            raise UploadError(f"line {lineno} has {len(cells)} values, the others {width}: "
                              "every row needs the same number of columns")
        if len(rows) == MAX_SAMPLES:
            raise UploadError(f"the CSV has more than {MAX_SAMPLES:,} rows: upload a subset")
        if (len(rows) + 1) * width > MAX_CSV_NUMBERS:
            raise UploadError(f"the CSV holds more than {MAX_CSV_NUMBERS:,} numbers: upload fewer rows or columns "
                              "(or an .npy array)")
        try:
            rows.append(np.array([float(c) for c in cells]))
        except ValueError:
            bad = next(c for c in cells if not _isfloat(c))
            raise UploadError(f"line {lineno} has a non-number '{shown(bad, 20)}': "
                              "the CSV must hold numbers only (one optional header row)") from None
    if not rows:
        raise UploadError("the CSV is empty" if header is None else "the CSV has a header but no rows of numbers")
    out = np.stack(rows)
    del rows
    labels = None
    notes = [f"{len(out)} vectors of {width} numbers" + (" (header row skipped)" if header else "")]
    lc = next((i for i, h in enumerate(header) if h.lower() in LABEL_COLUMNS), None) if header else None
    if lc is not None:
        labels, out = out[:, lc], np.delete(out, lc, axis=1)
        notes.append(f"labels from column '{shown(header[lc], 20)}'")
    return out, labels, notes
