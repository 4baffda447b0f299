"""explorer.data.images: safe opening of untrusted files and the shared preprocessing step.

Every bad kind is a real file written to tmp_path by the test itself.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from explorer.data.images import (MAX_PIXELS, MAX_UPLOAD_BYTES, ImageRejected, load_and_preprocess,
                             open_image, parse_background, to_square_rgb)

RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 20), (20, 20, 220), (255, 255, 255)


# ----------------------------------------------------------------------------- file makers
def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png_bomb(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit greyscale PNG of zeros: tiny on disk, huge once decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(height // 1000)]
    parts += [comp.compress(row * (height % 1000)), comp.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
                     + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b""))
    return path


def save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def noisy(size=(120, 90)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def close(a, b, tol=12) -> bool:
    return bool(np.all(np.abs(np.asarray(a, int) - np.asarray(b, int)) <= tol))


# ----------------------------------------------------------------------------- rejections
def test_truncated_jpeg_is_rejected(tmp_path):
    full = save(noisy(), tmp_path / "full.jpg", quality=95).read_bytes()
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(full[: len(full) * 2 // 3])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(ImageRejected) as e:
        open_image(bad)
    assert e.value.kind == "corrupt"
    assert "truncated" in str(e.value) and "truncated.jpg" in str(e.value)


def test_truncated_png_is_rejected(tmp_path):
    full = save(noisy(), tmp_path / "full.png").read_bytes()
    bad = tmp_path / "truncated.png"
    bad.write_bytes(full[: len(full) // 2])
    with pytest.raises(ImageRejected, match="truncated"):
        open_image(bad)


def test_zero_byte_png_is_rejected(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageRejected) as e:
        open_image(p)
    assert e.value.kind == "empty-file" and "empty" in str(e.value) and "empty.png" in str(e.value)


def test_text_file_named_jpg_is_rejected(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a photo\n")
    with pytest.raises(ImageRejected) as e:
        open_image(p)
    assert e.value.kind == "not-an-image" and "not an image" in str(e.value)


@pytest.mark.parametrize("content, fmt", [
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
    (b"8BPS\x00\x01" + b"\x00" * 6 + b"\x00\x03\x00\x00\x00\x10\x00\x00\x00\x10\x00\x08\x00\x03",
     "PSD"),
])
def test_other_formats_are_rejected_by_name(tmp_path, content, fmt):
    p = tmp_path / "photo.png"  # an image extension must not fool it
    p.write_bytes(content)
    with pytest.raises(ImageRejected) as e:
        open_image(p)
    assert e.value.kind == "unsupported-format"
    assert fmt in str(e.value) and "accepted" in str(e.value)


def test_ico_is_rejected_by_name(tmp_path):
    p = save(Image.new("RGB", (32, 32), RED), tmp_path / "favicon.ico", format="ICO")
    with pytest.raises(ImageRejected, match="ICO"):
        open_image(p)


def test_png_bomb_refused_before_decoding(tmp_path):
    bomb = write_png_bomb(tmp_path / "bomb.png", 20000, 20000)  # 400 Mpx
    assert bomb.stat().st_size < 200_000
    limit_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageRejected) as e:
        open_image(bomb)
    assert e.value.kind == "too-many-pixels" and "bomb" in str(e.value)
    assert Image.MAX_IMAGE_PIXELS == limit_before  # Pillow's global guard untouched


def test_bomb_below_pillow_limit_caught_by_our_own_check(tmp_path):
    # 7000 x 7000 = 49 Mpx: over our 40 Mpx, under Pillow's ~89 Mpx warning threshold.
    bomb = write_png_bomb(tmp_path / "big.png", 7000, 7000)
    assert 7000 * 7000 < Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageRejected) as e:
        open_image(bomb)
    assert e.value.kind == "too-many-pixels" and "49,000,000" in str(e.value)
    # the per-call limit: a small image is refused when the caller asks for less
    small = save(Image.new("RGB", (100, 100)), tmp_path / "small.png")
    with pytest.raises(ImageRejected, match="too-many|limit"):
        open_image(small, max_pixels=5000)
    assert open_image(small, max_pixels=10_000).size == (100, 100)


def test_huge_upload_refused_without_reading_it(tmp_path):
    sparse = tmp_path / "huge.jpg"
    with open(sparse, "wb") as f:
        f.truncate(200 * 1024 * 1024)  # 200 MB, sparse: no disk used
    with pytest.raises(ImageRejected) as e:
        open_image(sparse)
    assert e.value.kind == "too-large" and "limit" in str(e.value)

    class Endless(io.RawIOBase):
        """A file object that would yield 200 MB; counts what is read."""
        served = 0

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), 200 * 1024 * 1024 - self.served)
            b[:n] = b"\xff" * n
            self.served += n
            return n

    stream = Endless()
    with pytest.raises(ImageRejected, match="too large"):
        open_image(stream, max_bytes=1000)
    assert stream.served <= 1001 + 8192  # at most max_bytes + 1 (plus one buffer)
    with pytest.raises(ImageRejected, match="too large"):
        open_image(b"\x00" * 2000, max_bytes=1000)
    assert MAX_UPLOAD_BYTES == 20 * 1024 * 1024 and MAX_PIXELS == 40_000_000


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ImageRejected, match="not found"):
        open_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageRejected, match="folder"):
        open_image(tmp_path)
    with pytest.raises(TypeError):
        open_image(12345)


# ----------------------------------------------------------------------------- accepted kinds
def test_cmyk_jpeg_becomes_rgb(tmp_path):
    p = save(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=95)
    img = open_image(p)
    assert img.mode == "CMYK"
    a = to_square_rgb(img, 16)
    assert a.shape == (16, 16, 3) and a.dtype == np.uint8
    r, g, b = a[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60  # red


def test_palette_png_with_transparency_composited(tmp_path):
    img = Image.new("P", (20, 20), 0)
    img.putpalette([0, 0, 0] + list(RED) + [0] * (256 * 3 - 6))
    img.paste(1, (5, 5, 15, 15))
    p = save(img, tmp_path / "pal.png", transparency=0)
    a = load_and_preprocess(p, 20, background=(0, 255, 0))
    assert tuple(a[0, 0]) == (0, 255, 0)       # transparent -> background, not black
    assert close(a[10, 10], RED, 2)


def test_rgba_png_composited_on_background(tmp_path):
    arr = np.zeros((20, 20, 4), np.uint8)
    arr[..., :3] = (0, 0, 0)
    arr[:, 10:, 3] = 255        # right half opaque black
    arr[:, :10, 3] = 0          # left half transparent (black underneath)
    p = save(Image.fromarray(arr, "RGBA"), tmp_path / "rgba.png")
    a = load_and_preprocess(p, 20)
    assert tuple(a[10, 2]) == WHITE and tuple(a[10, 17]) == (0, 0, 0)
    half = np.zeros((4, 4, 4), np.uint8)
    half[..., 3] = 128
    b = to_square_rgb(Image.fromarray(half, "RGBA"), 4)
    assert close(b[2, 2], (127, 127, 127), 2)   # 50 % black over white


def test_gif_takes_first_frame(tmp_path):
    frames = [Image.new("RGB", (30, 30), RED), Image.new("RGB", (30, 30), BLUE)]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(p) as check:
        assert check.n_frames == 2
    a = load_and_preprocess(p, 10)
    assert close(a[5, 5], RED, 20)


def test_animated_webp_takes_first_frame(tmp_path):
    frames = [Image.new("RGB", (30, 30), GREEN), Image.new("RGB", (30, 30), BLUE)]
    p = tmp_path / "anim.webp"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    a = load_and_preprocess(p, 10)
    assert close(a[5, 5], GREEN, 20)


def test_16bit_tiff(tmp_path):
    arr = np.zeros((20, 20), np.uint16)
    arr[:, 10:] = 65535
    arr[:10, :10] = 32896  # mid grey
    p = save(Image.fromarray(arr), tmp_path / "deep.tif")
    img = open_image(p)
    assert img.mode.startswith("I")
    a = to_square_rgb(img, 20)
    assert tuple(a[15, 15]) == WHITE and tuple(a[15, 2]) == (0, 0, 0)
    assert close(a[2, 2], (128, 128, 128), 2)


@pytest.mark.parametrize("fmt, ext", [("BMP", "bmp"), ("WEBP", "webp"), ("PNG", "png"),
                                      ("JPEG", "jpeg"), ("TIFF", "tiff"), ("GIF", "gif")])
def test_each_accepted_format(tmp_path, fmt, ext):
    p = save(Image.new("RGB", (30, 30), BLUE), tmp_path / f"x.{ext}", format=fmt)
    a = load_and_preprocess(p, 8)
    assert a.shape == (8, 8, 3) and a.dtype == np.uint8
    assert close(a[4, 4], BLUE, 25)
    # bytes and file objects give the same pixels as the path
    data = p.read_bytes()
    assert np.array_equal(load_and_preprocess(data, 8), a)
    assert np.array_equal(load_and_preprocess(io.BytesIO(data), 8), a)


@pytest.mark.parametrize("mode", ["L", "LA", "1", "I", "F", "RGBX", "YCbCr", "PA", "La", "RGBa"])
def test_any_mode_to_rgb(mode):
    base = Image.new("RGBA", (12, 6), (200, 200, 200, 255))
    img = base.convert(mode) if mode in ("La", "RGBa", "LA") else base.convert("RGB").convert(mode)
    a = to_square_rgb(img, 12)
    assert a.shape == (12, 12, 3) and a.dtype == np.uint8
    assert np.all(a[:3] == 255) and np.all(a[-3:] == 255)  # 12x6 padded with white
    if mode != "1":  # "1" is dithered
        assert close(a[6, 6], (200, 200, 200), 5)  # P modes: web palette, 204


def test_exif_orientation_6_is_applied(tmp_path):
    # stored 40 wide x 20 tall, left half red, right half blue; orientation 6 = rotate 90 CW
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = RED
    arr[:, 20:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = 6
    p = save(Image.fromarray(arr), tmp_path / "rotated.jpg", exif=exif, quality=95)
    img = open_image(p)
    assert img.size == (20, 40)  # now portrait
    a = np.asarray(img)
    assert close(a[5, 10], RED, 40) and close(a[35, 10], BLUE, 40)  # left went to the top


def test_portrait_is_padded_to_square_with_white_bars(tmp_path):
    p = save(Image.new("RGB", (30, 60), RED), tmp_path / "portrait.png")
    a = load_and_preprocess(p, 64)
    assert a.shape == (64, 64, 3)
    # 30x60 -> 32x64 centred: columns 0..15 and 48..63 are white bars
    assert np.all(a[:, :15] == 255) and np.all(a[:, 49:] == 255)
    assert close(a[:, 18:46], RED, 2)
    wide = to_square_rgb(Image.new("RGB", (60, 30), RED), 64, background="#000000")
    assert np.all(wide[:15] == 0) and np.all(wide[49:] == 0) and close(wide[32, 32], RED, 2)


def test_big_downscale_uses_reduce_and_stays_accurate(tmp_path):
    img = Image.new("RGB", (4000, 3000), GREEN)
    a = to_square_rgb(img, 64)
    assert a.shape == (64, 64, 3) and close(a[32, 32], GREEN, 1)
    assert np.all(a[:7] == 255) and np.all(a[-7:] == 255)  # 48 px tall, centred


def test_large_jpeg_draft_matches_full_decode(tmp_path):
    img = Image.new("RGB", (1600, 1200), (240, 240, 240))
    img.paste(Image.new("RGB", (800, 600), BLUE), (400, 300))
    p = save(img, tmp_path / "big.jpg", quality=95)
    fast = load_and_preprocess(p, 64)
    slow = to_square_rgb(open_image(p), 64)
    assert np.abs(fast.astype(int) - slow.astype(int)).max() <= 12


def test_parse_background():
    assert parse_background("white") == (255, 255, 255)
    assert parse_background("#102030") == (16, 32, 48)
    assert parse_background("102030") == (16, 32, 48)
    assert parse_background((1, 2, 3)) == (1, 2, 3)
    for bad in ("not-a-colour", (1, 2), (0, 0, 300)):
        with pytest.raises(ValueError):
            parse_background(bad)


def test_to_square_rgb_rejects_bad_size():
    with pytest.raises(ValueError):
        to_square_rgb(Image.new("RGB", (4, 4)), 0)
