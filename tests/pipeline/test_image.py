"""`larvseg.pipeline.image`: every input becomes (H, W, 3) uint8 RGB, or a clear ImageError."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from larvseg.pipeline.image import ImageError, describe_input, load_image

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real-images"


@pytest.fixture(scope="module")
def real() -> Path:
    """The real ImageNet photos; skipped where ../shared/data is absent."""
    if not REAL.is_dir():
        pytest.skip(f"real test images not found at {REAL.resolve()}")
    return REAL


def real_index(real: Path) -> dict[str, tuple[int, int, str]]:
    """file -> (width, height, PIL mode) from index.tsv."""
    rows = (line.split("\t") for line in (real / "index.tsv").read_text().splitlines()[1:])
    return {r[2]: (int(r[3]), int(r[4]), r[5]) for r in rows}


def check_rgb(array: np.ndarray, height: int, width: int) -> None:
    assert array.shape == (height, width, 3)
    assert array.dtype == np.uint8
    assert array.flags.c_contiguous


# ---------------------------------------------------------------- files


def test_every_real_image_loads_at_its_size_from_str_and_path(real: Path) -> None:
    for file, (width, height, mode) in real_index(real).items():
        from_path = load_image(real / file)
        check_rgb(from_path, height, width)
        assert from_path.flags.writeable  # torch.from_numpy needs no copy, users may draw on it
        np.testing.assert_array_equal(load_image(str(real / file)), from_path)
        if mode == "L":  # grayscale JPEGs: three equal channels equal to the decoded gray
            gray = np.asarray(Image.open(real / file))
            for channel in range(3):
                np.testing.assert_array_equal(from_path[:, :, channel], gray)


def test_real_large_and_tiny_images(real: Path) -> None:
    check_rgb(load_image(real / "n02091032_Italian_greyhound.JPEG"), 1600, 2400)
    check_rgb(load_image(real / "n03866082_overskirt.JPEG"), 121, 68)
    check_rgb(load_image(real / "n01871265_tusker.JPEG"), 56, 75)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP", "GIF"])
def test_other_formats_load(tmp_path: Path, fmt: str) -> None:
    pixels = np.zeros((6, 4, 3), dtype=np.uint8)
    pixels[:, :, 0] = 255
    path = tmp_path / f"red.{fmt.lower()}"
    Image.fromarray(pixels).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    np.testing.assert_array_equal(load_image(path), pixels)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.jpg"
    with pytest.raises(ImageError, match=r"nope\.jpg: no such file"):
        load_image(path)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=f"{tmp_path.name}: is a directory"):
        load_image(str(tmp_path))


def test_random_bytes_are_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "junk.jpg"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ImageError, match=r"junk\.jpg: not an image Pillow can read"):
        load_image(path)


def test_truncated_jpeg_fails_instead_of_loading_gray(real: Path, tmp_path: Path) -> None:
    data = (real / "n01440764_tench.JPEG").read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"half\.jpg: cannot decode .*truncated"):
        load_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # nothing global was switched on


@pytest.mark.parametrize(
    ("orientation", "white", "black"),
    [
        (6, (slice(2, 6), slice(-6, -2)), (slice(-6, -2), slice(2, 6))),
        (8, (slice(-6, -2), slice(2, 6)), (slice(2, 6), slice(-6, -2))),
    ],
)
def test_exif_orientation_is_applied(
    tmp_path: Path, orientation: int, white: tuple[slice, slice], black: tuple[slice, slice]
) -> None:
    # Stored 40 wide x 20 tall with a white top-left block. Orientation 6 means "rotate 90
    # clockwise to display": the block goes to the top-right; 8 (counter-clockwise): bottom-left.
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:8, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"rot{orientation}.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    loaded = load_image(path)
    check_rgb(loaded, 40, 20)
    assert loaded[white].min() > 200
    assert loaded[black].max() < 50
    assert load_image(Image.open(path)).shape == (40, 20, 3)  # a PIL input is rotated too


def test_decompression_bomb_says_how_to_raise_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # 10,000 px > 2 x 4000
    with pytest.raises(ImageError, match=r"big\.png: .*PIL\.Image\.MAX_IMAGE_PIXELS = None"):
        load_image(path)


def test_8000x6000_photo_loads(tmp_path: Path) -> None:
    path = tmp_path / "48mp.jpg"
    Image.new("RGB", (8000, 6000), (10, 200, 30)).save(path, quality=90)
    loaded = load_image(path)
    check_rgb(loaded, 6000, 8000)
    assert np.abs(loaded[3000, 4000].astype(int) - (10, 200, 30)).max() <= 2


# ---------------------------------------------------------------- PIL modes


def test_pil_grayscale_modes() -> None:
    gray = np.array([[0, 100, 255]], dtype=np.uint8)
    expected = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(load_image(Image.fromarray(gray, "L")), expected)
    bits = Image.fromarray(np.array([[True, False]]))
    assert bits.mode == "1"
    np.testing.assert_array_equal(load_image(bits), [[[255] * 3, [0] * 3]])


def test_alpha_is_composited_onto_white() -> None:
    rgba = np.array([[[200, 100, 0, 255], [200, 100, 0, 0], [200, 100, 0, 128]]], np.uint8)
    # 128/255 of the colour plus 127/255 of white, rounded: 200 -> 227, 100 -> 177, 0 -> 127
    expected = [[[200, 100, 0], [255, 255, 255], [227, 177, 127]]]
    np.testing.assert_array_equal(load_image(Image.fromarray(rgba, "RGBA")), expected)
    np.testing.assert_array_equal(load_image(rgba), expected)
    la = Image.fromarray(np.array([[[50, 255], [50, 0]]], np.uint8), "LA")
    np.testing.assert_array_equal(load_image(la), [[[50] * 3, [255] * 3]])


def test_palette_with_and_without_transparency() -> None:
    palette = Image.new("P", (2, 1))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.putpixel((1, 0), 1)
    np.testing.assert_array_equal(load_image(palette), [[[255, 0, 0], [0, 0, 255]]])
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", transparency=1)  # index 1 fully transparent
    reopened = Image.open(buffer)
    assert reopened.mode == "P" and "transparency" in reopened.info
    np.testing.assert_array_equal(load_image(reopened), [[[255, 0, 0], [255, 255, 255]]])


def test_cmyk() -> None:
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # no black, full magenta+yellow = red
    np.testing.assert_array_equal(load_image(cmyk), np.full((2, 2, 3), (255, 0, 0), np.uint8))


def test_16_bit_png_scales_by_the_uint16_range(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    np.testing.assert_array_equal(load_image(path)[0, :, 0], [0, 1, 128, 255])
    as_int32 = Image.fromarray(values.astype(np.int32), "I")
    np.testing.assert_array_equal(load_image(as_int32)[0, :, 1], [0, 1, 128, 255])


def test_32_bit_int_image_outside_16_bits_is_refused() -> None:
    image = Image.fromarray(np.array([[0, 70000]], dtype=np.int32), "I")
    with pytest.raises(ImageError, match=r"mode I.*\[0, 70000\].*\[0, 65535\]"):
        load_image(image)


def test_float_pil_image() -> None:
    image = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "F")
    np.testing.assert_array_equal(load_image(image)[0, :, 2], [0, 128, 255])
    with pytest.raises(ImageError, match=r"mode F.*\[0, 255\]"):
        load_image(Image.fromarray(np.array([[0.0, 255.0]], dtype=np.float32), "F"))


# ---------------------------------------------------------------- numpy arrays


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 1)])
def test_gray_arrays_become_three_equal_channels(shape: tuple[int, ...]) -> None:
    gray = np.arange(6, dtype=np.uint8).reshape(shape) * 40
    loaded = load_image(gray)
    check_rgb(loaded, 2, 3)
    np.testing.assert_array_equal(loaded, np.repeat(gray.reshape(2, 3, 1), 3, axis=2))


def test_uint8_rgb_array_is_returned_as_is() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    assert load_image(pixels) is pixels
    strided = pixels[:, ::2]
    loaded = load_image(strided)
    assert loaded.flags.c_contiguous
    np.testing.assert_array_equal(loaded, strided)


def test_one_pixel_image_works() -> None:
    np.testing.assert_array_equal(load_image(np.array([[[1, 2, 3]]], np.uint8)), [[[1, 2, 3]]])


@pytest.mark.parametrize("dtype", [np.uint16, np.dtype(">u2")])
def test_uint16_array_divides_by_257(dtype: np.dtype) -> None:
    pixels = np.array([[0, 128, 257, 65535]], dtype=dtype)
    np.testing.assert_array_equal(load_image(pixels)[0, :, 0], [0, 0, 1, 255])


def test_bool_array() -> None:
    np.testing.assert_array_equal(load_image(np.array([[True, False]]))[0, :, 0], [255, 0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_arrays_in_unit_range(dtype: type) -> None:
    pixels: np.ndarray = np.array([[0.0, 0.25, 1.0]], dtype=dtype)
    np.testing.assert_array_equal(load_image(pixels)[0, :, 0], [0, 64, 255])


def test_float_outside_unit_range_is_refused() -> None:
    pixels = np.full((2, 2, 3), 200.0, dtype=np.float32)
    with pytest.raises(ImageError, match=r"span \[200, 200\].*x / 255"):
        load_image(pixels, name="image 1")


def test_nan_is_refused() -> None:
    pixels = np.zeros((2, 2), dtype=np.float64)
    pixels[1, 1] = np.nan
    with pytest.raises(ImageError, match="NaN"):
        load_image(pixels)


def test_bad_dtype_error_names_the_input_as_the_brief_says() -> None:
    pixels = np.zeros((5, 5, 7), dtype=np.int8)
    with pytest.raises(ImageError) as err:
        load_image(pixels, name="image 3")
    assert str(err.value).startswith("image 3 (numpy array, shape (5, 5, 7), dtype int8): ")
    with pytest.raises(ImageError, match=r"unsupported dtype int64.*astype\(np\.uint8\)"):
        load_image(np.zeros((2, 2, 3), dtype=np.int64))


def test_channels_first_array_gets_a_transpose_hint() -> None:
    with pytest.raises(ImageError, match=r"channels-last.*transpose\(1, 2, 0\)"):
        load_image(np.zeros((3, 8, 8), dtype=np.uint8))


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0), (0, 0)])
def test_zero_size_array_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ImageError, match="empty"):
        load_image(np.zeros(shape, dtype=np.uint8))


def test_wrong_rank_is_refused() -> None:
    with pytest.raises(ImageError, match="channels-last"):
        load_image(np.zeros((2, 2, 2, 3), dtype=np.uint8))


# ---------------------------------------------------------------- torch tensors


def test_chw_tensors() -> None:
    hwc = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    chw = torch.from_numpy(hwc).permute(2, 0, 1)
    np.testing.assert_array_equal(load_image(chw), hwc)
    np.testing.assert_array_equal(load_image(chw.float() / 255), hwc)
    np.testing.assert_array_equal(
        load_image((chw.double() / 255).to(torch.bfloat16)).shape, hwc.shape
    )
    gray = chw[:1]
    np.testing.assert_array_equal(load_image(gray), np.repeat(hwc[:, :, :1], 3, axis=2))
    np.testing.assert_array_equal(load_image(gray[0]), np.repeat(hwc[:, :, :1], 3, axis=2))


def test_tensor_that_needs_grad_loads() -> None:
    tensor = torch.full((3, 2, 2), 0.5, requires_grad=True)
    np.testing.assert_array_equal(load_image(tensor), np.full((2, 2, 3), 128, np.uint8))


def test_hwc_tensor_gets_a_permute_hint() -> None:
    with pytest.raises(ImageError, match=r"channels first.*permute\(2, 0, 1\)"):
        load_image(torch.zeros(8, 8, 3, dtype=torch.uint8))


def test_batched_tensor_is_refused() -> None:
    with pytest.raises(ImageError, match=r"torch tensor, shape \(2, 3, 8, 8\).*pass a list"):
        load_image(torch.zeros(2, 3, 8, 8))


def test_float_tensor_outside_unit_range_is_refused() -> None:
    with pytest.raises(ImageError, match=r"torch tensor.*must lie in \[0, 1\]"):
        load_image(torch.full((3, 2, 2), 255.0))


# ---------------------------------------------------------------- other


def test_unsupported_type() -> None:
    with pytest.raises(ImageError, match="list object: unsupported input type"):
        load_image([[0, 1]])  # type: ignore[arg-type]


def test_describe_input() -> None:
    assert describe_input("photos/a.jpg") == "photos/a.jpg"
    assert describe_input(Path("photos") / "a.jpg") == str(Path("photos") / "a.jpg")
    assert (
        describe_input(np.zeros((5, 5, 7), np.int8)) == "numpy array, shape (5, 5, 7), dtype int8"
    )
    assert describe_input(torch.zeros(3, 4, 5)) == (
        "torch tensor, shape (3, 4, 5), dtype torch.float32"
    )
    assert describe_input(Image.new("RGB", (4, 3))) == "PIL image, mode RGB, size 4x3"
    assert describe_input(3) == "int object"


# ---------------------------------------------------------------- bytes


def test_bytes_decode_like_the_file(real: Path) -> None:
    path = sorted(real.glob("*.JPEG"))[0]
    np.testing.assert_array_equal(load_image(path.read_bytes()), load_image(path))
    assert describe_input(path.read_bytes()) == f"{path.stat().st_size} bytes of an encoded image"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"plain text, not an image", "not an image Pillow can read"),
        (None, "the file is probably truncated or corrupt"),
    ],
)
def test_bad_bytes_are_an_image_error(real: Path, data: bytes | None, reason: str) -> None:
    if data is None:  # a truncated JPEG
        data = sorted(real.glob("*.JPEG"))[0].read_bytes()[:500]
    with pytest.raises(
        ImageError, match=rf"^photo 3 \(\d+ bytes of an encoded image\): .*{reason}"
    ):
        load_image(data, name="photo 3")
