"""Decode bytes into pixels once per image, with limits.

Every signal asks the one :class:`DecodedImage` for the view it needs
(grey 96x96, RGB 64x64, ...).  Large JPEGs are decoded at reduced size
(``Image.draft``), which is most of the cost saved; small images (pixel art)
are enlarged with nearest-neighbour so that their hard edges stay hard.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.util import find_spec

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lookalike.errors import DecodeError, Reason
from lookalike.settings import DecodeSettings

__all__ = ["FORMATS", "OPTIONAL_FORMATS", "DecodedImage", "decode", "formats", "to_rgb"]

#: Formats lookalike decodes (Pillow names); the JPEG opener also yields MPO, the
#: multi-picture JPEG of many cameras.  PPM reads the Netpbm family (.pbm .pgm .ppm .pnm
#: .pfm); AVIF is in Pillow's own wheels since 11.3 (else pillow-avif-plugin, where installed);
#: HEIF (HEIC) and JPEG XL need the plugins of the ``lookalike[formats]`` extra
#: (:data:`OPTIONAL_FORMATS`); each is left out where it cannot be read.
#: Left out on purpose: EPS (Pillow runs Ghostscript on it: an interpreter fed hostile
#: PostScript), JPEG2000 and PSD (slow decoders with a history of memory-safety bugs), WMF
#: (Windows only, vector), PDF (Pillow only writes it), and the scientific containers (FITS,
#: GRIB, BUFR, HDF5), animations (FLI) and odd formats (MCIDAS, SPIDER, ...) no photo comes in.
FORMATS = (
    "JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "HEIF", "JXL", "PPM", "TGA", "ICO", "PCX", "QOI",
    "SGI", "DDS",
)  # fmt: skip
#: Formats read through a plugin package, with the module that registers it with Pillow.
OPTIONAL_FORMATS = {"HEIF": "pillow_heif", "AVIF": "pillow_avif", "JXL": "pillow_jxl"}
#: What to install for them.
FORMATS_EXTRA = "pip install 'lookalike[formats]'"
#: Transparent pixels are composited onto this colour.
BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class DecodedImage:
    """A decoded, upright RGB image and the facts of its file."""

    image: Image.Image  # RGB, possibly reduced to about ``work_size`` on the long side
    width: int  # full size of the upright image, before any reduction
    height: int
    format: str
    mode: str  # the file's own pixel mode (RGB, P, CMYK, I;16, ...)
    _views: dict[tuple[str, int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def rgb(self, width: int, height: int | None = None) -> np.ndarray:
        """The image as a ``(height, width, 3)`` uint8 array of the given size."""
        return self._view("RGB", width, height or width)

    def grey(self, width: int, height: int | None = None) -> np.ndarray:
        """The image as a ``(height, width)`` uint8 luma array of the given size."""
        return self._view("L", width, height or width)

    def _view(self, mode: str, width: int, height: int) -> np.ndarray:
        key = (mode, width, height)
        if key not in self._views:
            resized = resize(self.image, width, height)
            self._views[key] = np.asarray(resized if mode == "RGB" else resized.convert(mode))
        return self._views[key]


def resize(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resize for signals: area-average when shrinking, nearest-neighbour when enlarging.

    An image smaller than the target on either side is first enlarged by a whole
    factor with nearest-neighbour, so pixel art keeps its hard edges and every
    source pixel becomes an equal block.
    """
    w, h = image.size
    factor = max(-(-width // w), -(-height // h))
    if factor > 1:
        image = image.resize((w * factor, h * factor), Image.Resampling.NEAREST)
    if image.size == (width, height):
        return image
    return image.resize((width, height), Image.Resampling.BOX)


def decode(
    data: bytes, settings: DecodeSettings, uri: str | None = None, need: int | None = None
) -> DecodedImage:
    """Decode ``data`` or raise :class:`DecodeError` with the reason.

    ``need`` is the longest side any caller will ask a view for; a JPEG is then
    decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still gives it.
    """
    if not data:
        raise DecodeError(Reason.EMPTY, "the file is empty", uri)
    if len(data) > settings.max_bytes:
        raise DecodeError(
            Reason.TOO_LARGE,
            f"{len(data)} bytes is more than decode.max_bytes={settings.max_bytes}",
            uri,
        )
    image = _open(data, settings, uri)
    try:
        return _load(image, settings, min(need or settings.work_size, settings.work_size))
    except DecodeError:
        raise
    except Exception as exc:  # hostile data can trip any plugin; none may escape
        raise DecodeError(Reason.CORRUPT, f"cannot decode {image.format} data: {exc}", uri) from None


@cache
def _register_plugins() -> None:
    """Register the optional format plugins that are installed, once per process."""
    Image.init()  # registers every plugin of Pillow's own once (MPO, WebP, TIFF are not preloaded)
    if find_spec("pillow_heif") is not None:
        import_module("pillow_heif").register_heif_opener()
    if "AVIF" not in Image.OPEN and find_spec("pillow_avif") is not None:
        import_module("pillow_avif")  # registers itself; only where Pillow has no AVIF of its own
    if find_spec("pillow_jxl") is not None:
        import_module("pillow_jxl")  # registers itself


def formats() -> dict[str, bool]:
    """Each format of :data:`FORMATS` and whether it can be decoded here."""
    _register_plugins()
    return {name: name in Image.OPEN for name in FORMATS}


def _open(data: bytes, settings: DecodeSettings, uri: str | None) -> Image.Image:
    _register_plugins()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[f for f in FORMATS if f in Image.OPEN])
    except UnidentifiedImageError:
        claimed = _signature(data)
        if claimed in OPTIONAL_FORMATS and claimed not in Image.OPEN:
            raise DecodeError(
                Reason.UNSUPPORTED_FORMAT,
                f"a {claimed} image, and no {claimed} decoder is installed: {FORMATS_EXTRA}",
                uri,
            ) from None
        if claimed:
            raise DecodeError(Reason.CORRUPT, f"starts like {claimed} but cannot be read", uri) from None
        raise DecodeError(
            Reason.NOT_AN_IMAGE,
            f"not an image in a supported format ({', '.join(FORMATS)})",
            uri,
        ) from None
    except Image.DecompressionBombError as exc:
        raise DecodeError(Reason.TOO_MANY_PIXELS, _bomb_detail(str(exc), settings), uri) from None
    except Exception as exc:  # hostile headers can trip any plugin; none may escape
        raise DecodeError(Reason.CORRUPT, f"cannot read image header: {exc}", uri) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise DecodeError(Reason.CORRUPT, f"image claims a size of {width}x{height}", uri)
    if width * height > settings.max_pixels:
        raise DecodeError(Reason.TOO_MANY_PIXELS, _too_many(f"{width}x{height} pixels", settings), uri)
    return image


def _too_many(size: str, settings: DecodeSettings) -> str:
    return (
        f"{size} is more than decode.max_pixels={settings.max_pixels}"
        " (a decompression bomb, or raise the setting)"
    )


def _bomb_detail(pillow_message: str, settings: DecodeSettings) -> str:
    """Pillow refuses past twice its own limit before lookalike sees the size: say it our way."""
    found = re.search(r"\((\d+) pixels\)", pillow_message)
    pixels = int(found.group(1)) if found else None
    if pixels is None or pixels > settings.max_pixels:
        return _too_many(f"{pixels} pixels" if pixels else "the image's size", settings)
    return f"{pixels} pixels is more than the most any image may have ({2 * (Image.MAX_IMAGE_PIXELS or 0)})"


_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


#: ISOBMFF brands (the ``ftyp`` box) of AVIF and of HEIF; AVIF is checked first, as AVIF
#: files list the general HEIF brand ``mif1`` among theirs.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_JXL = (b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")


def _signature(data: bytes) -> str | None:
    """The format a file's first bytes claim, if it is one lookalike reads."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        box = int.from_bytes(data[:4], "big")
        brands = {data[i : i + 4] for i in range(8, min(max(box, 16), 64), 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
    if data.startswith(_JXL):
        return "JXL"
    return next((name for magic, name in _SIGNATURES.items() if data.startswith(magic)), None)


def _load(image: Image.Image, settings: DecodeSettings, need: int) -> DecodedImage:
    fmt, mode = image.format or "?", image.mode
    full_w, full_h = image.size
    if fmt in ("JPEG", "MPO"):
        long_side = max(full_w, full_h)  # ask for the same shape, so both sides may shrink
        image.draft("RGB", (max(1, need * full_w // long_side), max(1, need * full_h // long_side)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image.load()
    upright = ImageOps.exif_transpose(image)
    if upright.size != image.size:
        full_w, full_h = full_h, full_w
    rgb = to_rgb(upright)
    if max(rgb.size) > settings.work_size:
        rgb.thumbnail((settings.work_size, settings.work_size), Image.Resampling.BOX)
    return DecodedImage(rgb, full_w, full_h, fmt, mode)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as RGB: transparency composited onto :data:`BACKGROUND`, wide greys scaled."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _wide_to_rgb(image)
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if mode == "RGB" else image.convert("RGB")


def _wide_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and float greys: scale to 8 bits by the range the mode can hold."""
    pixels = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        low, high = float(pixels.min()), float(pixels.max())
        pixels = (pixels - low) / (high - low or 1.0) * 255.0
    else:
        pixels = pixels / 257.0
    grey = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    return grey.convert("RGB")
