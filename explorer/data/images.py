"""Safe image opening and the one preprocessing step shared by ingest and photo uploads.

Untrusted files go through :func:`open_image`, which refuses (with :class:`ImageRejected`,
whose message says what was wrong and where):

- anything bigger than ``max_bytes`` (read at most ``max_bytes + 1`` bytes; a path is refused
  from its size before reading),
- empty files, non-images (whatever their extension), formats other than
  JPEG/PNG/WebP/GIF/BMP/TIFF (the message names the detected format),
- images whose header declares more than ``max_pixels`` pixels (decompression bombs),
  checked per call before any pixel is decoded,
- truncated or corrupt files (the image is fully decoded before it is returned).

:func:`to_square_rgb` turns any accepted image into the model's input: uint8 RGB
``[size, size, 3]``, transparency composited on a background colour, aspect ratio kept by
padding (centred) with that colour, Lanczos resampling. :func:`load_and_preprocess` is the two
together; ingest and the app's photo upload both call it so they see the same pixels.
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from typing import BinaryIO, Sequence

import numpy as np
from PIL import Image, ImageColor, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000

# Pillow format names we decode. MPO is how Pillow names a camera JPEG carrying extra
# pictures (e.g. a depth map); its first picture is an ordinary JPEG.
ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_OPEN_FORMATS = ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"]  # Pillow's JPEG opener yields MPO
ACCEPTED_FORMATS_TEXT = "JPEG, PNG, WebP, GIF, BMP, TIFF"

# File name extensions of the accepted formats (used by ingest to pick files out of a folder).
IMAGE_EXTENSIONS: frozenset[str] = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".dib", ".tif", ".tiff",
})

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)


class ImageRejected(ValueError):
    """An image was refused. ``str(e)`` is "<where>: <reason>" when a location is known.

    Attributes: ``reason`` (what was wrong, without the location), ``kind`` (a short stable
    tag: empty-file, too-large, not-an-image, unsupported-format, too-many-pixels, corrupt,
    unreadable, missing-file), ``where`` (path or name, or None).
    """

    def __init__(self, reason: str, *, kind: str = "corrupt", where: str | None = None):
        self.reason = reason
        self.kind = kind
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)


# --------------------------------------------------------------------------- reading bytes
def _read_limited(source: bytes | str | os.PathLike | BinaryIO, max_bytes: int | None,
                  where: str | None) -> bytes:
    """The bytes of ``source``, refusing more than max_bytes without reading them all."""
    limit_text = f"{max_bytes:,} bytes ({max_bytes / 2**20:.0f} MiB)" if max_bytes else ""

    def too_large(n: int | None) -> ImageRejected:
        size = f"{n:,} bytes" if n is not None else f"more than {max_bytes:,} bytes"
        return ImageRejected(f"file too large: {size}, the limit is {limit_text}",
                             kind="too-large", where=where)

    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if max_bytes is not None and len(data) > max_bytes:
            raise too_large(len(data))
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise ImageRejected("file not found", kind="missing-file", where=where) from None
        except OSError as e:
            raise ImageRejected(f"cannot read file ({e.strerror or e})", kind="unreadable",
                                where=where) from None
        if stat.S_ISDIR(st.st_mode):
            raise ImageRejected("is a folder, not an image file", kind="unreadable", where=where)
        if not stat.S_ISREG(st.st_mode):
            raise ImageRejected("not a regular file", kind="unreadable", where=where)
        if max_bytes is not None and st.st_size > max_bytes:
            raise too_large(st.st_size)
        try:
            with open(path, "rb") as f:
                data = f.read(-1 if max_bytes is None else max_bytes + 1)
        except OSError as e:
            raise ImageRejected(f"cannot read file ({e.strerror or e})", kind="unreadable",
                                where=where) from None
        if max_bytes is not None and len(data) > max_bytes:  # grew since stat
            raise too_large(None)
    elif hasattr(source, "read"):
        try:
            data = source.read(-1 if max_bytes is None else max_bytes + 1)
        except OSError as e:
            raise ImageRejected(f"cannot read upload ({e})", kind="unreadable",
                                where=where) from None
        if isinstance(data, str):
            raise TypeError("open_image needs a binary file object (opened with 'rb'), "
                            "got a text stream")
        data = bytes(data)
        if max_bytes is not None and len(data) > max_bytes:
            raise too_large(None)
    else:
        raise TypeError(f"open_image: expected bytes, a path or a binary file object, "
                        f"got {type(source).__name__}")
    if not data:
        raise ImageRejected("empty file (0 bytes)", kind="empty-file", where=where)
    return data


# Formats Pillow does not read at all but that people upload; checked by magic bytes.
def _sniff_non_pillow(data: bytes) -> str | None:
    head = data[:1024]
    low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if low.startswith(b"%pdf"):
        return "PDF"
    if low.startswith(b"<svg") or (low.startswith(b"<?xml") and b"<svg" in low):
        return "SVG"
    if low.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIC"
        if brand in (b"avif", b"avis"):
            return "AVIF"
        return f"ISO media ({brand.decode('ascii', 'replace')})"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ICO"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP"
    if head.startswith(b"\x1f\x8b"):
        return "GZIP"
    return None


def _identify_with_pillow(data: bytes) -> str | None:
    """Format name Pillow gives the header (no decoding), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as probe:
                return probe.format
    except Exception:  # noqa: BLE001 - any failure means "not identified"
        return None


def _looks_like_text(data: bytes) -> bool:
    head = data[:2048]
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # a multi-byte character cut at the end is fine
            return False
    return True


def _describe_unidentified(data: bytes, where: str | None) -> ImageRejected:
    fmt = _sniff_non_pillow(data) or _identify_with_pillow(data)
    if fmt:
        return ImageRejected(f"unsupported image format {fmt} (accepted: {ACCEPTED_FORMATS_TEXT})",
                             kind="unsupported-format", where=where)
    what = "looks like text" if _looks_like_text(data) else f"starts with bytes {data[:8].hex(' ')}"
    return ImageRejected(f"not an image ({what}; accepted: {ACCEPTED_FORMATS_TEXT})",
                         kind="not-an-image", where=where)


# --------------------------------------------------------------------------- open_image
def open_image(source: bytes | str | os.PathLike | BinaryIO, *,
               max_bytes: int | None = MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS,
               name: str | None = None, draft: int | None = None) -> Image.Image:
    """Open an untrusted image fully decoded, first frame only, EXIF orientation applied.

    source: bytes, a path, or a binary file object (e.g. Streamlit's UploadedFile).
    max_bytes: refuse larger inputs (None: no limit). max_pixels: refuse images whose header
    declares more pixels, before decoding. name: how to call the source in messages
    (defaults to the path). draft: JPEG only, let the decoder scale down by 1/2..1/8 as long as
    both sides stay >= 2 * draft pixels (a speed-up when the caller will resize to ``draft``).

    Raises ImageRejected (a ValueError) with the reason; TypeError for a wrong source type.
    The returned image does not depend on the source any more (safe to close the file).
    """
    where = name
    if where is None and isinstance(source, (str, os.PathLike)):
        where = os.fspath(source)
    data = _read_limited(source, max_bytes, where)

    try:
        with warnings.catch_warnings():
            # Pillow's own (global) guard warns between MAX_IMAGE_PIXELS and twice that; our
            # per-call limit below is the one that decides, so the warning is just noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except Image.DecompressionBombError as e:
        raise ImageRejected(f"too many pixels, refusing to decode (possible decompression "
                            f"bomb): {e}", kind="too-many-pixels", where=where) from None
    except UnidentifiedImageError:
        raise _describe_unidentified(data, where) from None
    except Exception as e:  # noqa: BLE001 - a broken header must not crash the caller
        raise ImageRejected(f"truncated or corrupt image header ({type(e).__name__}: {e})",
                            kind="corrupt", where=where) from None

    try:
        fmt = img.format or "?"
        if fmt not in ACCEPTED_FORMATS:  # cannot happen with formats=..., kept as a guard
            raise ImageRejected(f"unsupported image format {fmt} "
                                f"(accepted: {ACCEPTED_FORMATS_TEXT})",
                                kind="unsupported-format", where=where)
        fmt_text = "JPEG" if fmt == "MPO" else fmt
        w, h = img.size
        if w <= 0 or h <= 0:
            raise ImageRejected(f"{fmt_text} header declares an empty image ({w}x{h})",
                                kind="corrupt", where=where)
        if w * h > max_pixels:
            raise ImageRejected(
                f"{fmt_text} header declares {w}x{h} = {w * h:,} pixels, more than the limit of "
                f"{max_pixels:,}: refusing to decode (possible decompression bomb)",
                kind="too-many-pixels", where=where)
        if draft and fmt in ("JPEG", "MPO"):
            img.draft(None, (2 * draft, 2 * draft))
        try:
            img.seek(0)
            img.load()  # full decode: a truncated or corrupt file fails here
        except ImageRejected:
            raise
        except Exception as e:  # noqa: BLE001 - decoders raise OSError, SyntaxError, ...
            raise ImageRejected(f"truncated or corrupt {fmt_text} data ({type(e).__name__}: {e})",
                                kind="corrupt", where=where) from None
        try:
            out = ImageOps.exif_transpose(img)  # a new image, detached from the file
        except Exception:  # noqa: BLE001 - unreadable EXIF: keep the pixels as stored
            out = img.copy()
        out.format = img.format
        return out
    finally:
        img.close()


# --------------------------------------------------------------------------- preprocessing
def parse_background(value: str | Sequence[int]) -> Color:
    """An RGB triple from (r, g, b), a colour name ("white") or "#RRGGBB" / "#RGB"."""
    if isinstance(value, str):
        text = value.strip()
        if text and all(c in "0123456789abcdefABCDEF" for c in text) and len(text) in (3, 6):
            text = "#" + text
        try:
            rgb = ImageColor.getrgb(text)
        except ValueError:
            raise ValueError(f"background colour {value!r} not understood: use a name like "
                             f"'white' or a hex colour like '#F5F5F5'") from None
        if len(rgb) == 4 and rgb[3] != 255:
            raise ValueError(f"background colour {value!r} must be opaque")
        return (int(rgb[0]), int(rgb[1]), int(rgb[2]))
    try:
        r, g, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"background must be (r, g, b), a colour name or '#RRGGBB', "
                         f"got {value!r}") from None
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError(f"background values must be within 0..255, got {value!r}")
    return (r, g, b)


def _wide_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float single-channel image -> 8-bit "L"."""
    a = np.asarray(img)
    if img.mode.startswith("I;16"):
        a8 = (a.astype(np.float32) / 257.0)
    elif img.mode == "F":
        hi = float(np.nanmax(a)) if a.size else 0.0
        a8 = a * 255.0 if hi <= 1.0 else (a if hi <= 255.0 else a * (255.0 / hi))
    else:  # "I": 32-bit ints, usually a 16-bit image in disguise
        hi = int(a.max()) if a.size else 0
        a8 = a if hi <= 255 else (a / 257.0 if hi <= 65535 else a * (255.0 / hi))
    a8 = np.nan_to_num(np.asarray(a8, dtype=np.float32), nan=0.0)
    return Image.fromarray(np.clip(np.rint(a8), 0, 255).astype(np.uint8), mode="L")


def _to_rgb_or_rgba(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> "RGB", or "RGBA" when the image has transparency."""
    mode = img.mode
    has_trns = img.info.get("transparency") is not None
    if mode in ("RGB", "RGBA"):
        return img.convert("RGBA") if mode == "RGB" and has_trns else img
    if mode == "La":  # premultiplied; Pillow converts it only to LA
        img, mode = img.convert("LA"), "LA"
    if mode in ("RGBa", "LA", "PA"):
        return img.convert("RGBA")
    if mode in ("P", "L", "1"):
        return img.convert("RGBA" if has_trns else "RGB")
    if mode.startswith("I") or mode == "F":
        return _wide_to_l(img).convert("RGB")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...


def to_square_rgb(img: Image.Image, size: int, background: Color | str = WHITE) -> np.ndarray:
    """uint8 [size, size, 3]: the image fitted into a square, padded (centred) with background.

    Transparency is composited on the background; any mode (L, LA, P, CMYK, I;16, 1, ...)
    becomes RGB; the longer side becomes ``size`` (Lanczos, with integer pre-reduction for big
    downscales), the shorter side is padded equally on both sides.
    """
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    size = int(size)
    bg = parse_background(background)
    im = _to_rgb_or_rgba(img)
    w, h = im.size
    scale = size / max(w, h)
    tw, th = max(1, min(size, round(w * scale))), max(1, min(size, round(h * scale)))
    if (tw, th) != (w, h):
        # RGBA is resized premultiplied by Pillow, so transparent pixels do not bleed in.
        im = im.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0)
    canvas = Image.new("RGB", (size, size), bg)
    offset = ((size - tw) // 2, (size - th) // 2)
    if im.mode == "RGBA":
        canvas.paste(im.convert("RGB"), offset, mask=im.getchannel("A"))
    else:
        canvas.paste(im, offset)
    return np.asarray(canvas, dtype=np.uint8).copy()


def load_and_preprocess(source: bytes | str | os.PathLike | BinaryIO, size: int,
                        background: Color | str = WHITE, **limits) -> np.ndarray:
    """open_image + to_square_rgb: uint8 [size, size, 3]. limits: max_bytes, max_pixels, name.

    Raises ImageRejected for anything open_image refuses.
    """
    limits.setdefault("draft", int(size))
    return to_square_rgb(open_image(source, **limits), size, background)


def ingest_worker(task: tuple[str, str], size: int, background: Color) -> tuple:
    """One file for explorer.data.ingest's process pool: task = (path, label for messages).

    Returns ("ok", pixels uint8 [size, size, 3], 16-byte digest of the pixels) or
    ("rejected", kind, reason); never raises for a bad file. It lives here, not in ingest,
    so that a worker process only imports this light module (no pandas).
    """
    path, label = task
    try:
        arr = load_and_preprocess(path, size, background, name=label)
    except ImageRejected as e:
        return ("rejected", e.kind, e.reason)
    except MemoryError:
        return ("rejected", "unreadable", "out of memory while decoding")
    except Exception as e:  # noqa: BLE001 - one odd file must never stop an ingest
        return ("rejected", "unreadable",
                f"unexpected error while decoding ({type(e).__name__}: {e})")
    return ("ok", arr, hashlib.blake2b(arr.tobytes(), digest_size=16).digest())
