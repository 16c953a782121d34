"""Turn any user image input into an `(H, W, 3)` uint8 RGB array, or fail with a clear error.

Accepted inputs (`ImageInput`):

- a path (`str` or `os.PathLike`) to any file Pillow reads (JPEG, PNG, TIFF, WebP, ...);
  the EXIF orientation is applied, so a photo comes out the way viewers show it.
- `bytes` holding such a file's contents (as read from object storage), decoded alike.
- a `PIL.Image.Image` in any mode: 1, L, P, RGB, CMYK, YCbCr, I;16 and I (16-bit, scaled
  so that 65535 -> 255; mode I must hold values in [0, 65535]), F (floats in [0, 1]).
- a numpy array, channels last: `(H, W)`, `(H, W, 1)`, `(H, W, 3)` or `(H, W, 4)`, of dtype
  uint8, uint16 (scaled by 1/257), bool (True -> 255) or float16/32/64 (values in [0, 1]).
- a torch tensor, channels first (CHW, as torchvision uses): `(3, H, W)`, `(1, H, W)`,
  `(4, H, W)` or `(H, W)`, uint8, bool or float in [0, 1]; on any device.

Alpha (LA, PA, RGBA, transparent palettes, 4-channel arrays) is composited onto white,
the usual background of transparent graphics; the colour stored under fully transparent
pixels is often arbitrary and is never shown.

Pillow refuses images above `2 * PIL.Image.MAX_IMAGE_PIXELS` (about 179 MP) as possible
decompression bombs; an 8000x6000 (48 MP) photo loads as is. To read larger trusted
files, raise the limit (`PIL.Image.MAX_IMAGE_PIXELS = None` switches it off).
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError

if TYPE_CHECKING:
    import torch

ImageInput = Union[str, os.PathLike, bytes, Image.Image, np.ndarray, "torch.Tensor"]

FLOAT_DTYPES = (np.float16, np.float32, np.float64)
ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")


@dataclass(frozen=True)
class ImageFile:
    """One input file and the name its outputs get (a relative path, no suffix)."""

    path: Path
    name: str

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> ImageFile:
        """`path` (`~` expanded), named by its stem."""
        expanded = Path(path).expanduser()
        return cls(expanded, expanded.stem)


def describe_input(image: object) -> str:
    """A short description of an input for messages: a path as given, arrays by shape/dtype."""
    if isinstance(image, (str, os.PathLike)):
        return str(os.fspath(image))
    if isinstance(image, bytes):
        return f"{len(image)} bytes of an encoded image"
    if isinstance(image, Image.Image):
        return f"PIL image, mode {image.mode}, size {image.width}x{image.height}"
    if isinstance(image, np.ndarray):
        return f"numpy array, shape {image.shape}, dtype {image.dtype}"
    if _is_tensor(image):
        return f"torch tensor, shape {tuple(image.shape)}, dtype {image.dtype}"
    return f"{type(image).__name__} object"


def load_image(image: ImageInput, name: str | None = None) -> np.ndarray:
    """Load `image` as a C-contiguous `(H, W, 3)` uint8 RGB array (see the module docstring).

    Args:
        image: a path, a file's bytes, PIL image, numpy array (channels last) or torch
            tensor (channels first).
        name: how to call the input in errors, e.g. "image 3"; its description follows.

    Returns:
        The pixels at the input's resolution: a C-contiguous `(H, W, 3)` uint8 array input
        itself, otherwise a new (writable) array.

    Raises:
        ImageError: the input is missing, unreadable, truncated, too large, or of a shape,
            dtype or value range that is not an image.
    """
    desc = describe_input(image)
    label = f"{name} ({desc})" if name else desc
    if isinstance(image, (str, os.PathLike)):
        return _from_pil(_open(Path(os.fspath(image)), label), label)
    if isinstance(image, bytes):
        return _from_pil(_decode(io.BytesIO(image), label), label)
    if isinstance(image, Image.Image):
        return _from_pil(image, label)
    if isinstance(image, np.ndarray):
        return _from_array(image, label)
    if _is_tensor(image):
        return _from_tensor(image, label)
    raise ImageError(
        f"{label}: unsupported input type; pass a file path, a file's bytes, a PIL image, a "
        "numpy array (H, W[, C]) or a torch tensor ([C,] H, W)"
    )


def _is_tensor(obj: object) -> TypeGuard[torch.Tensor]:
    """Whether `obj` is a torch tensor, without importing torch when the caller has not."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _open(path: Path, label: str) -> Image.Image:
    """Open and fully decode an image file, turning every failure into an `ImageError`."""
    if path.is_dir():
        raise ImageError(
            f"{label}: is a directory; pass the image files in it, e.g. "
            "sorted(Path(folder).glob('*.jpg'))"
        )
    if not path.exists():
        raise ImageError(f"{label}: no such file; check the path and the working directory")
    return _decode(path, label)


def _decode(source: Path | io.BytesIO, label: str) -> Image.Image:
    """Fully decode an image file or its bytes, turning every failure into an `ImageError`."""
    try:
        with Image.open(source) as opened:
            opened.load()
            return ImageOps.exif_transpose(opened)
    except Image.DecompressionBombError as err:
        raise ImageError(
            f"{label}: {err} If you trust this file, raise the limit before loading, e.g. "
            "PIL.Image.MAX_IMAGE_PIXELS = None"
        ) from err
    except PermissionError as err:
        raise ImageError(
            f"{label}: cannot read it (permission denied); check the file's permissions"
        ) from err
    except UnidentifiedImageError as err:
        raise ImageError(
            f"{label}: not an image Pillow can read (corrupt file or unsupported format); "
            "re-export it as JPEG or PNG"
        ) from err
    except OSError as err:
        raise ImageError(
            f"{label}: cannot decode ({err}); the file is probably truncated or corrupt, "
            "re-download or re-export it"
        ) from err


def _from_pil(image: Image.Image, label: str) -> np.ndarray:
    """RGB pixels of a PIL image of any mode, after its EXIF orientation."""
    try:
        image = ImageOps.exif_transpose(image)  # a no-op copy when already applied
    except OSError as err:
        raise ImageError(f"{label}: cannot decode ({err}); the image data is incomplete") from err
    if image.mode == "I":
        pixels = np.asarray(image)
        if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
            raise ImageError(
                f"{label}: 32-bit integer pixels in [{pixels.min()}, {pixels.max()}] are outside "
                "the 16-bit range [0, 65535]; rescale them (e.g. to uint8) before passing"
            )
        return _from_array(pixels.astype(np.uint16), label)
    if image.mode.startswith("I;16") or image.mode in ("RGB", "F"):
        return _from_array(np.array(image), label)
    has_alpha = image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
    try:
        converted = image.convert("RGBA" if has_alpha else "RGB")
    except ValueError as err:
        raise ImageError(f"{label}: cannot convert mode {image.mode} to RGB ({err})") from err
    return _from_array(np.array(converted), label)


def _from_tensor(tensor: torch.Tensor, label: str) -> np.ndarray:
    """A CHW (or HW) tensor -> RGB pixels."""
    if tensor.ndim == 3 and tensor.shape[0] not in (1, 3, 4):
        hint = " (it looks HWC: pass t.permute(2, 0, 1))" if tensor.shape[-1] in (1, 3, 4) else ""
        raise ImageError(f"{label}: a 3-d tensor must be channels first, (1|3|4, H, W){hint}")
    if tensor.ndim not in (2, 3):
        raise ImageError(
            f"{label}: expected one image, (C, H, W) or (H, W); for a batch pass a list "
            "[t[i] for i in range(len(t))]"
        )
    import torch  # already imported: `tensor` is one

    tensor = tensor.detach().cpu()
    pixels = (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
    return _from_array(pixels.transpose(1, 2, 0) if pixels.ndim == 3 else pixels, label)


def _from_array(pixels: np.ndarray, label: str) -> np.ndarray:
    """A channels-last array of any supported dtype -> `(H, W, 3)` uint8 RGB."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        hint = " (it looks CHW: pass a.transpose(1, 2, 0))" if pixels.shape[0] in (1, 3, 4) else ""
        raise ImageError(
            f"{label}: expected a channels-last image (H, W), (H, W, 1), (H, W, 3) or "
            f"(H, W, 4){hint}"
        )
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageError(f"{label}: the image is empty (zero height or width)")
    rgba = _to_uint8(pixels, label)
    if rgba.shape[2] == 1:
        rgba = np.repeat(rgba, 3, axis=2)
    elif rgba.shape[2] == 4:
        rgba = _composite_on_white(rgba)
    return np.ascontiguousarray(rgba)


def _to_uint8(pixels: np.ndarray, label: str) -> np.ndarray:
    """Scale uint8/uint16/bool/float [0, 1] pixels to uint8; other dtypes are an error."""
    kind, size = pixels.dtype.kind, pixels.dtype.itemsize
    if kind == "u" and size == 1:
        return pixels
    if kind == "b":
        return pixels.astype(np.uint8) * np.uint8(255)
    if kind == "u" and size == 2:
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if pixels.dtype in FLOAT_DTYPES:
        values = pixels.astype(np.float32, copy=False)
        if not np.isfinite(values).all():
            raise ImageError(f"{label}: contains NaN or infinite values; fix or mask them")
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            raise ImageError(
                f"{label}: float pixels must lie in [0, 1] but span [{low:g}, {high:g}]; "
                "scale them (e.g. x / 255 for 0..255 values) or pass uint8"
            )
        return np.rint(values * 255.0).astype(np.uint8)
    raise ImageError(
        f"{label}: unsupported dtype {pixels.dtype}; pass uint8 (0..255), uint16 (0..65535), "
        "bool, or float in [0, 1], e.g. a.astype(np.uint8)"
    )


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """`(H, W, 4)` uint8 RGBA -> `(H, W, 3)` uint8 RGB over a white background (rounded)."""
    rgb = rgba[:, :, :3].astype(np.uint32)
    alpha = rgba[:, :, 3:].astype(np.uint32)
    return ((rgb * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
