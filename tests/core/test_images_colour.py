"""images.colour: the one fixed colour scale, the heatmap layer and overlay, outlines and verdict colours."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inspector_app.core.images import (
    FAIL_COLOUR,
    HEATMAP_VMAX,
    PASS_COLOUR,
    draw_mask_contours,
    heat_layer_bgra,
    heatmap_rgb,
    overlay_heatmap,
    resize_map,
    rgb_to_bgrx,
    verdict_colour,
)

RNG = np.random.default_rng(7)


def colour_of(value: float, vmax: float = HEATMAP_VMAX) -> np.ndarray:
    return heatmap_rgb(np.array([[value]], np.float32), vmax)[0, 0].astype(int)


@pytest.mark.parametrize("vmax", [1.5, HEATMAP_VMAX, 3.0, 4.0])
def test_heatmap_changes_sharply_at_the_threshold(vmax: float) -> None:
    below, at, above = colour_of(0.99, vmax), colour_of(1.0, vmax), colour_of(1.01, vmax)
    assert np.abs(above - below).sum() > 150
    assert np.abs(at - above).sum() < 20  # 1.0 itself is drawn as "at the threshold"
    assert below[0] < 100 and at[0] == 255


def test_heatmap_warms_monotonically_above_the_threshold() -> None:
    colours = heatmap_rgb(np.linspace(1.0, 2.5, 400, dtype=np.float32)[None, :])[0].astype(int)
    assert (np.diff(colours[:, 0]) >= 0).all(), "red must never fall above the threshold"
    assert (np.diff(colours[:, 1]) <= 0).all(), "green must never rise above the threshold"
    assert colours[-1, 1] < 40 and colours[0, 1] > 200  # yellow at 1.0, red at the top


@pytest.mark.parametrize(
    ("low", "high"),
    [(0.0, 0.5), (0.0, 5.0), (-3.0, 0.45), (0.4, 0.41), (0.2, 100.0)],
)
def test_heatmap_scale_is_fixed_not_per_image(low: float, high: float) -> None:
    """The same value must get the same colour in every frame, whatever else the frame holds."""
    reference = heatmap_rgb(np.array([[0.4, 1.5]], np.float32))
    frame = np.linspace(low, high, 64, dtype=np.float32).reshape(8, 8)
    frame[0, 0], frame[0, 1] = 0.4, 1.5
    np.testing.assert_array_equal(heatmap_rgb(frame)[0, :2], reference[0])


def test_heatmap_of_a_quiet_frame_stays_cold() -> None:
    colours = heatmap_rgb(np.linspace(0.0, 0.5, 50, dtype=np.float32)[None, :])[0].astype(int)
    assert (colours[:, 2] > colours[:, 0]).all(), "a frame far below the threshold must not look hot"


OUT_OF_RANGE = [
    (-1.0, 0.0), (-np.inf, 0.0), (np.nan, 0.0), (5.0, HEATMAP_VMAX), (np.inf, HEATMAP_VMAX), (3e38, HEATMAP_VMAX)
]


@pytest.mark.parametrize(("value", "same_as"), OUT_OF_RANGE)
def test_heatmap_clamps_out_of_range_values(value: float, same_as: float) -> None:
    np.testing.assert_array_equal(colour_of(value), colour_of(same_as))


@pytest.mark.parametrize("vmax", [HEATMAP_VMAX, 3.0])
def test_heatmap_clamps_out_of_range_values_in_long_rows(vmax: float) -> None:
    """OpenCV takes long rows in vector registers, short ones and row ends one value at a time: the clamping
    must hold both ways (a vector min or max can turn NaN into the bound), at every position in a row."""
    values = np.array([v for v, _ in OUT_OF_RANGE] * 50, np.float32)[None, :]
    expected = np.array([vmax if s == HEATMAP_VMAX else s for _, s in OUT_OF_RANGE] * 50, np.float32)[None, :]
    for shift in range(17):
        rows = np.roll(values, shift, axis=1), np.roll(expected, shift, axis=1)
        np.testing.assert_array_equal(heatmap_rgb(rows[0], vmax), heatmap_rgb(rows[1], vmax))


@pytest.mark.parametrize("vmax", [1.0, 0.5, 1000.0])
def test_heatmap_rejects_a_scale_without_the_threshold_inside(vmax: float) -> None:
    with pytest.raises(ValueError, match="vmax"):
        heatmap_rgb(np.zeros((2, 2), np.float32), vmax)


# --------------------------------------------------------------------------------------------------- overlay


@pytest.mark.parametrize("value", [0.0, 0.29, -4.0])
def test_overlay_leaves_a_good_part_untouched(value: float) -> None:
    image = RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = overlay_heatmap(image, np.full((40, 50), value, np.float32))
    np.testing.assert_array_equal(out, image)
    assert out is not image


def test_overlay_paints_anomalies_with_the_expected_blend() -> None:
    image = np.full((30, 20, 3), 100, np.uint8)
    out = overlay_heatmap(image, np.full((30, 20), 2.0, np.float32), opacity=0.5)
    expected = np.rint(0.5 * 100 + 0.5 * colour_of(2.0))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_overlay_matches_a_plain_reference_at_awkward_sizes() -> None:
    """Strip-wise and column-cropped blending must equal whole-frame arithmetic (height not a strip multiple)."""
    image = RNG.integers(0, 256, (301, 263, 3), dtype=np.uint8)
    norm_map = RNG.uniform(-0.5, 2.5, (301, 263)).astype(np.float32)
    norm_map[:100] = 0.1  # a quiet band: those strips are skipped
    opacity = 0.7
    alpha = opacity * np.clip((norm_map - 0.3) / 0.7, 0.0, 1.0)[..., None]
    expected = image * (1 - alpha) + heatmap_rgb(norm_map) * alpha
    assert np.abs(overlay_heatmap(image, norm_map, opacity).astype(float) - expected).max() <= 3


def test_overlay_resizes_a_smaller_map_and_accepts_grey_images() -> None:
    image = np.full((64, 80), 90, np.uint8)
    small = np.zeros((8, 10), np.float32)
    small[:4] = 2.0
    out = overlay_heatmap(image, small)
    assert out.shape == (64, 80, 3)
    assert (out[:24] != 90).any(axis=2).all() and (out[-24:] == 90).all()


@pytest.mark.parametrize("opacity", [0.0, -1.0])
def test_overlay_with_no_opacity_changes_nothing(opacity: float) -> None:
    image = RNG.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    np.testing.assert_array_equal(overlay_heatmap(image, np.full((10, 10), 2.0), opacity), image)


@pytest.mark.parametrize("vmax", [HEATMAP_VMAX, 2.5, 3.0, 256.0])
def test_heatmap_index_splits_exactly_at_the_threshold(vmax: float) -> None:
    """The largest float32 below 1.0 is cold and 1.0 warm, for even (fast path) and odd entry counts."""
    just_below = np.nextafter(np.float32(1.0), np.float32(0.0))
    just_above = np.nextafter(np.float32(1.0), np.float32(2.0))
    below, at, above = (colour_of(float(v), vmax) for v in (just_below, 1.0, just_above))
    assert below[0] < 100 and at[0] == 255 and above[0] == 255


def lay_over(picture: np.ndarray, layer: np.ndarray, regions: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The "source over" rule in exact integer arithmetic: layer + picture · (255 − A) / 255, rounded."""
    out = picture.astype(int)
    for x, y, w, h in regions:
        part = layer[y : y + h, x : x + w].astype(int)
        rgb, alpha = part[..., 2::-1], part[..., 3:]
        out[y : y + h, x : x + w] = rgb + (2 * out[y : y + h, x : x + w] * (255 - alpha) + 255) // 510
    return out


def test_heat_layer_laid_over_the_picture_equals_the_overlay() -> None:
    """The window's path (a premultiplied layer blended by the display) shows what ``overlay_heatmap`` returns,
    with quiet strips and quiet columns left out of the layer."""
    image = RNG.integers(0, 256, (301, 1100, 3), dtype=np.uint8)  # strips of 59 rows at this width
    norm_map = RNG.uniform(-0.5, 2.5, (301, 1100)).astype(np.float32)
    norm_map[:130] = 0.1  # two strips with nothing to blend
    norm_map[150:, :120] = 0.0  # strips blended in some columns only
    norm_map[200, 130:136] = [np.nan, np.inf, -np.inf, 3e38, -3e38, 1.0]
    layer = np.full((301, 1100, 4), 77, np.uint8)  # whatever an older frame left there
    regions = heat_layer_bgra(norm_map, 0.6, layer)
    assert [y for _, y, _, _ in regions] == [118, 177, 236, 295]
    assert [x for x, _, _, _ in regions][1:] == [120, 120, 120]
    np.testing.assert_array_equal(lay_over(image, layer, regions), overlay_heatmap(image, norm_map, 0.6))
    alpha = layer[..., 3:].astype(int)
    for x, y, w, h in regions:  # premultiplied: no colour byte above its alpha, or a display would overflow
        assert (layer[y : y + h, x : x + w, :3] <= alpha[y : y + h, x : x + w]).all()


@pytest.mark.parametrize("opacity", [1.0, 0.61, 0.25])
def test_overlay_rounds_every_picture_value_under_every_opacity_exactly(opacity: float) -> None:
    """Each of the 256 picture values (rows) under every opacity the ramp gives (columns): the overlay's
    blend must round as the exact integer rule does, not just come within 1."""
    picture = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 300, axis=1).repeat(3, axis=2)
    norm_map = np.repeat(np.linspace(0.25, 2.1, 300, dtype=np.float32)[None, :], 256, axis=0)
    layer = np.zeros((256, 300, 4), np.uint8)
    regions = heat_layer_bgra(norm_map, opacity, layer)
    assert len(np.unique(layer[..., 3])) > 60  # many opacities, from none to ``opacity``
    np.testing.assert_array_equal(overlay_heatmap(picture, norm_map, opacity), lay_over(picture, layer, regions))


@pytest.mark.parametrize(("value", "opacity"), [(0.29, 0.8), (2.0, 0.0), (2.0, float("nan"))])
def test_heat_layer_is_empty_for_a_good_part_or_no_opacity(value: float, opacity: float) -> None:
    layer = np.zeros((40, 30, 4), np.uint8)
    assert heat_layer_bgra(np.full((40, 30), value, np.float32), opacity, layer) == []
    assert not layer.any()


def test_heat_layer_resizes_a_smaller_map_to_the_picture() -> None:
    image = RNG.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    small = RNG.uniform(0.0, 2.0, (8, 10)).astype(np.float32)
    layer = np.zeros((64, 80, 4), np.uint8)
    regions = heat_layer_bgra(small, 0.5, layer)
    np.testing.assert_array_equal(lay_over(image, layer, regions), overlay_heatmap(image, small, 0.5))


def test_heat_layer_refuses_a_layer_it_cannot_fill() -> None:
    unfit = (np.zeros((10, 12, 3), np.uint8), np.zeros((10, 12, 4), np.float32),
             np.zeros((10, 24, 4), np.uint8)[:, ::2])
    for bad in unfit:
        with pytest.raises(ValueError, match="layer must be"):
            heat_layer_bgra(np.zeros((10, 12), np.float32), 0.5, bad)


def test_rgb_to_bgrx_refuses_an_output_it_cannot_fill() -> None:
    image = np.zeros((10, 12, 3), np.uint8)
    unfit = (np.zeros((10, 12, 3), np.uint8), np.zeros((12, 10, 4), np.uint8), np.zeros((10, 12, 4), np.float32),
             np.zeros((10, 24, 4), np.uint8)[:, ::2])
    for bad in unfit:
        with pytest.raises(ValueError, match="output must be .* 10×12×4"):
            rgb_to_bgrx(image, bad)


def test_rgb_to_bgrx_swaps_channels_and_sets_the_fourth_byte() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = np.zeros((3, 4, 4), np.uint8)
    rgb_to_bgrx(grey, out)
    np.testing.assert_array_equal(out[..., :3], np.repeat(grey[..., None], 3, axis=2))
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[..., 0] = 200  # red
    out = np.zeros((2, 2, 4), np.uint8)
    rgb_to_bgrx(colour, out)
    assert out[0, 0].tolist() == [0, 0, 200, 255]

# -------------------------------------------------------------------------------------------------- contours


def test_contours_of_an_empty_mask_change_nothing() -> None:
    image = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = draw_mask_contours(image, np.zeros((32, 32), bool))
    np.testing.assert_array_equal(out, image)
    assert out is not image


@pytest.mark.parametrize(
    "mask",
    [
        np.pad(np.ones((20, 20), bool), 22),  # a 64×64 bool mask with the square at 22..41
        np.pad(np.ones((20, 20), np.float32), 22) * 0.9,  # a float map above level 0.5
        cv2.resize(np.pad(np.ones((10, 10), np.uint8), 11), (64, 64), interpolation=cv2.INTER_NEAREST) > 0,
        np.pad(np.ones((10, 10), bool), 11),  # a 32×32 mask: resized to the image
    ],
    ids=["bool", "float", "resized bool", "half-size bool"],
)
def test_contours_draw_only_near_the_square_border(mask: np.ndarray) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    out = draw_mask_contours(image, mask, colour=(255, 40, 40), thickness=2)
    drawn = (out == (255, 40, 40)).all(axis=2)
    assert drawn.any()
    ys, xs = np.nonzero(drawn)
    distance_to_border = np.minimum.reduce([np.abs(ys - 22), np.abs(ys - 41), np.abs(xs - 22), np.abs(xs - 41)])
    assert distance_to_border.max() <= 2
    assert not drawn[28:36, 28:36].any() and not drawn[:15].any()


# ---------------------------------------------------------------------------------------------------- verdict


@pytest.mark.parametrize(("failed", "colour"), [(True, FAIL_COLOUR), (False, PASS_COLOUR)])
def test_verdict_colour(failed: bool, colour: tuple[int, int, int]) -> None:
    assert verdict_colour(failed) == colour


def test_a_nan_map_resized_to_the_picture_paints_and_outlines_nothing() -> None:
    """NaN is a model's failure, not an anomaly: after resizing (bilinear and area) it must stay cold, be
    left out of the overlay and never be outlined, and ±inf must not spread NaN to its neighbours."""
    image = np.full((64, 64, 3), 90, np.uint8)
    for size in (16, 128):  # enlarged and shrunk to the picture
        norm_map = np.zeros((size, size), np.float32)
        norm_map[4:8, 4:8] = np.nan
        np.testing.assert_array_equal(overlay_heatmap(image, norm_map, 0.8), image)
        np.testing.assert_array_equal(draw_mask_contours(image, norm_map, level=0.5), image)
        assert (heatmap_rgb(resize_map(norm_map, 64, 64)) == heatmap_rgb(np.zeros((1, 1), np.float32))).all()
        norm_map[4:8, 4:8] = np.inf
        resized = resize_map(norm_map, 64, 64)
        assert np.isfinite(resized).all() and resized.max() > HEATMAP_VMAX
