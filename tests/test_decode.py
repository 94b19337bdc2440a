from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from lookalike.decode import decode, resize
from lookalike.errors import DecodeError, Reason
from lookalike.settings import DecodeSettings

from conftest import encode, photo

SETTINGS = DecodeSettings()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"])
def test_every_supported_format_decodes(fmt: str) -> None:
    image = decode(encode(photo(1), fmt), SETTINGS)
    assert (image.width, image.height) == (320, 240)
    assert image.rgb(64).shape == (64, 64, 3)
    assert image.grey(96).shape == (96, 96)


def test_exif_orientation_is_applied() -> None:
    source = photo(2, (300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise
    decoded = decode(encode(source, "JPEG", exif=exif), SETTINGS)
    assert (decoded.width, decoded.height) == (200, 300)
    assert decoded.image.size[0] < decoded.image.size[1]


def test_alpha_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    pixels = decode(encode(rgba), SETTINGS).rgb(10)
    assert (pixels == 255).all()


def test_palette_with_transparency_16_bit_and_cmyk() -> None:
    palette = photo(3).convert("P")
    palette.info["transparency"] = 0
    assert decode(encode(palette), SETTINGS).rgb(8).shape == (8, 8, 3)
    wide = Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16))
    grey = decode(encode(wide), SETTINGS).grey(64)
    assert grey.max() > 200 and grey.min() < 10  # 16-bit range scaled, not clipped
    cmyk = decode(encode(photo(4).convert("CMYK"), "JPEG"), SETTINGS)
    assert cmyk.mode == "CMYK" and cmyk.rgb(16).shape == (16, 16, 3)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (20, 20), c) for c in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert tuple(decode(buffer.getvalue(), SETTINGS).rgb(4)[0, 0]) == (255, 0, 0)


def test_large_jpeg_is_decoded_reduced_but_reports_full_size() -> None:
    decoded = decode(encode(photo(5, (2400, 1600)), "JPEG"), DecodeSettings(work_size=256))
    assert (decoded.width, decoded.height) == (2400, 1600)
    assert max(decoded.image.size) == 256


def test_pixel_art_is_enlarged_with_hard_edges() -> None:
    checker = Image.fromarray((np.indices((4, 4)).sum(0) % 2 * 255).astype(np.uint8)).convert("RGB")
    grey = resize(checker, 96, 96).convert("L")
    values = set(np.unique(np.asarray(grey)))
    assert values == {0, 255}  # nearest-neighbour: no blurred greys


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", Reason.EMPTY),
        (b"this is not an image at all", Reason.NOT_AN_IMAGE),
        (encode(photo(6), "JPEG")[:400], Reason.CORRUPT),
        (encode(photo(6), "PNG")[:-200], Reason.CORRUPT),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, Reason.CORRUPT),
    ],
)
def test_bad_bytes_give_a_reason(data: bytes, reason: Reason) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(data, SETTINGS, uri="x.png")
    assert caught.value.reason is reason
    assert "x.png" in str(caught.value)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = encode(Image.new("L", (5000, 5000)), "PNG")  # tiny file, 25 megapixels
    assert len(bomb) < 100_000
    with pytest.raises(DecodeError) as caught:
        decode(bomb, DecodeSettings(max_pixels=10_000_000))
    assert caught.value.reason is Reason.TOO_MANY_PIXELS
    assert "decode.max_pixels" in caught.value.detail


def test_byte_limit() -> None:
    with pytest.raises(DecodeError) as caught:
        decode(encode(photo(1)), DecodeSettings(max_bytes=100))
    assert caught.value.reason is Reason.TOO_LARGE


def test_a_bomb_past_pillows_own_limit_names_our_setting() -> None:
    huge = 2 * (Image.MAX_IMAGE_PIXELS or 0) + 1000  # Pillow itself refuses this at open
    side = int(huge**0.5) + 1
    small = encode(Image.new("1", (8, 8)), "PNG")  # a tiny PNG whose header claims side x side
    ihdr = b"IHDR" + side.to_bytes(4, "big") * 2 + small[24:29]
    forged = small[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + small[33:]
    with pytest.raises(DecodeError) as caught:
        decode(forged, DecodeSettings())
    assert caught.value.reason is Reason.TOO_MANY_PIXELS
    assert "decode.max_pixels" in caught.value.detail and "178956970" not in caught.value.detail
