"""The junk flag on small made images: each reason, and the images that must not be junk."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lookalike.decode import decode
from lookalike.settings import DecodeSettings, JunkSettings
from lookalike.signals import FlagSignal, SignalSet
from lookalike.signals.junk import Junk

from conftest import encode, photo


def judged(data: bytes, **settings: object) -> str | None:
    signal = Junk(JunkSettings(**settings))  # type: ignore[arg-type]
    feature = signal.extract(decode(data, DecodeSettings(), None, 256))
    return signal.reason(signal.decode(signal.encode(feature)))  # as stored and read back


def button(size: tuple[int, int] = (100, 30)) -> Image.Image:
    """A two-colour web button: white words on blue."""
    image = Image.new("RGB", size, (30, 90, 200))
    ImageDraw.Draw(image).text((10, 8), "Buy now", fill=(255, 255, 255))
    return image


def sprite() -> Image.Image:
    """A 16x16 pixel-art sprite: a few flat colours with hard edges."""
    pixels = np.full((16, 16, 3), 255, np.uint8)
    pixels[3:13, 4:12] = (200, 50, 50)
    pixels[5:7, 5:7] = pixels[5:7, 9:11] = (0, 0, 0)
    pixels[13:16, 5:11] = (90, 60, 30)
    return Image.fromarray(pixels)


def noisy_photo() -> Image.Image:
    """A real-looking photo: smooth shapes and sensor noise."""
    pixels = np.asarray(photo(4), dtype=np.int16)
    noise = np.random.default_rng(4).normal(0, 6, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def test_a_one_pixel_gif_is_a_spacer() -> None:
    assert judged(encode(Image.new("P", (1, 1)), "GIF")) == "spacer"
    assert judged(encode(Image.new("RGB", (2, 2), (9, 9, 9)))) == "spacer"
    assert judged(encode(photo(1, (300, 2)))) == "spacer"  # a 2-pixel rule, however long


def test_near_uniform_images_are_blank() -> None:
    assert judged(encode(Image.new("RGB", (8, 8), (200, 200, 200)))) == "blank"
    grey = np.random.default_rng(0).normal(128, 2, (300, 400, 3))  # flat, with a little noise
    assert judged(encode(Image.fromarray(grey.clip(0, 255).astype(np.uint8)), "JPEG")) == "blank"
    assert judged(encode(Image.new("RGBA", (300, 200), (0, 0, 0, 0)))) == "blank"  # all transparent


def test_a_two_colour_button_is_a_placeholder() -> None:
    assert judged(encode(button())) == "placeholder"
    assert judged(encode(button(), "JPEG", quality=85)) == "placeholder"
    banner = button((240, 60))
    ImageDraw.Draw(banner).rectangle((20, 15, 200, 45), fill=(255, 255, 255))
    assert judged(encode(banner)) is None  # two colours, but larger than a button
    assert judged(encode(button()), pixel_art="yes") is None  # a pixel-art collection's wide sprite


def test_photos_are_not_junk() -> None:
    assert judged(encode(noisy_photo(), "JPEG", quality=85)) is None
    assert judged(encode(photo(2).resize((100, 30)))) is None  # button-sized, but a picture
    assert judged(encode(photo(3, (40, 40)))) is None  # small, not tiny


def test_a_tiny_image_is_junk_unless_pixel_art() -> None:
    icon = encode(noisy_photo().resize((20, 15)))  # a photo shrunk to an icon: many colours
    assert judged(icon) == "tiny"
    assert judged(icon, pixel_art="yes") is None
    assert judged(icon, min_side=16) is None
    assert judged(encode(sprite())) is None  # few colours: a sprite (pixel_art "auto")
    assert judged(encode(sprite()), pixel_art="no") == "tiny"


def test_the_settings_are_part_of_the_version() -> None:
    assert Junk().spec.version == 1
    assert len({Junk(JunkSettings(min_side=s)).spec.version for s in (32, 16, 64)}) == 3


def test_junk_is_a_flag_with_no_index() -> None:
    signals = SignalSet({"junk": Junk()})
    assert isinstance(signals["junk"], FlagSignal)
    assert list(signals.flags()) == ["junk"] and signals.indexed() == {}


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (100, 30), (16, 16), (500, 333)])
def test_not_flagged_is_stored_as_no_bytes(size: tuple[int, int]) -> None:
    signal = Junk()
    feature = signal.extract(decode(encode(photo(5, size)), DecodeSettings(), None, 256))
    reason = signal.reason(feature)
    assert signal.encode(feature) == (reason or "").encode()
