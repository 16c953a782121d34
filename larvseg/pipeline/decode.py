"""Large-vocabulary decoding without image-resolution score maps (docs/method.md).

Bilinear upsampling is linear, so the score of class `c` at an output pixel is a
weighted sum of its logits at the pixel's four feature-grid neighbours ("taps").
Only the taps' top-k classes are scored at image resolution, in bands of rows:
memory is `O(h * w * k)` plus one band, never `O(C * H * W)`. Everything runs with
torch ops on the logits' device (the model's, CUDA included); the tap positions and
weights are computed on the CPU and moved there, so they are the same numbers on
every device.

All maps are channels-last: logits `(h, w, K)` at feature resolution. A grid from
overlapping patches (patch `p`, stride `s`, `span = p / s`) has cell `i` centred at
`i s + p / 2` model pixels; `span = 1` is the plain grid, where this is exactly
`F.interpolate(mode="bilinear", align_corners=False)`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BAND_ELEMENTS = 1 << 23  # floats per chunk of output pixels in the candidate scoring step
MAX_PRUNED_CANDIDATES = 64  # per quad; above this, dominated candidates are kept
EXACT_CHUNK = 32  # classes upsampled to image resolution at once by the exact argmax


def bilinear_taps(
    in_size: int, out_size: int, span: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices `i0, i1` and weight of `i1` for each output position, `(out_size,)` each.

    `span = 1` matches `F.interpolate(mode="bilinear", align_corners=False)` with an
    explicit size. With `span = p / s` (a grid of `in_size` overlapping patches of side
    `p` every `s` pixels, whose image is `(in_size - 1) s + p` pixels), output position
    `y` maps to cell `(y + 0.5) (in_size - 1 + span) / out_size - span / 2`, clamped to
    the grid: the cell centres sit at `i s + p / 2`.
    """
    scale = (in_size - 1 + span) / out_size
    src = (
        (torch.arange(out_size, dtype=torch.float32, device="cpu") + 0.5) * scale - span / 2
    ).clamp_(min=0)
    i0 = src.floor().long().clamp_(max=in_size - 1)
    i1 = (i0 + 1).clamp_(max=in_size - 1)
    return i0, i1, src - i0


def _device_taps(
    in_size: int, out_size: int, span: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`bilinear_taps` moved to `device`."""
    i0, i1, weight = bilinear_taps(in_size, out_size, span)
    return i0.to(device), i1.to(device), weight.to(device)


def _quad_cells(height: int, width: int, device: torch.device) -> torch.Tensor:
    """Flat cell index of the 4 taps of each quad anchored at `(y0, x0)`: `(h, w, 4)`."""
    ys = torch.arange(height, device=device)
    xs = torch.arange(width, device=device)
    y1 = (ys + 1).clamp(max=height - 1)
    x1 = (xs + 1).clamp(max=width - 1)
    rows = torch.stack([ys, ys, y1, y1], dim=-1)[:, None, :]
    cols = torch.stack([xs, x1, xs, x1], dim=-1)[None, :, :]
    return rows * width + cols


def _quad_candidates(
    flat: torch.Tensor, height: int, width: int, k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Candidate classes of each quad and their logits at its four taps.

    Candidates are the taps' top-k classes minus those dominated by another candidate
    (at least as high at all four taps, so it can never win anywhere in the quad). The
    pairwise check is skipped for more than `MAX_PRUNED_CANDIDATES` candidates.

    Returns:
        classes `(h, w, n)` int64, values `(h, w, n, 4)` (non-dominated first; `n` is the
        largest number of non-dominated candidates of any quad) and that number per quad
        `(h, w)`.
    """
    cells = _quad_cells(height, width, flat.device)  # (h, w, 4)
    top_indices = flat.topk(k, dim=1).indices
    classes = top_indices[cells].reshape(height, width, 4 * k)
    values = flat[cells[:, :, None, :], classes[..., None]]  # (h, w, 4k, 4)
    if 4 * k > MAX_PRUNED_CANDIDATES:  # pairwise pruning would cost more than it saves
        return classes, values, torch.full((height, width), 4 * k, device=flat.device)
    a, b = values[:, :, :, None, :], values[:, :, None, :, :]
    order = torch.arange(4 * k, device=flat.device)
    # dominates[..., i, j]: candidate i beats or ties j at every tap (ties go to the first)
    dominates = (a >= b).all(-1) & ((a > b).any(-1) | (order[:, None] < order[None, :]))
    alive = ~dominates.any(dim=-2)  # (h, w, 4k)
    counts = alive.sum(-1)
    first = torch.argsort((~alive).to(torch.int8), dim=-1, stable=True)[..., : int(counts.max())]
    values = values.gather(2, first[..., None].expand(-1, -1, -1, 4))
    return classes.gather(-1, first), values, counts


def upsampled_argmax(
    logits: torch.Tensor, out_size: tuple[int, int], k: int | None = 8, span: int = 1
) -> torch.Tensor:
    """Argmax over classes of the bilinearly upsampled logits.

    With `k`, among each pixel's candidates: the top-`k` classes of its four taps; a
    quad with a single non-dominated candidate is filled without per-pixel work. The
    result equals `F.interpolate(logits.permute(2, 0, 1)[None], out_size,
    mode="bilinear").argmax(1)` wherever the winner is among the candidates: always when
    `k >= K`, and in practice when neighbouring patches agree on their leading classes
    (a winner outside every tap's top-k must lose to k classes at each of the four
    patches). With `k=None`, that argmax exactly (ties to the lowest index), upsampling
    `EXACT_CHUNK` classes at a time: `O(K * H * W)` time, `O(EXACT_CHUNK * H * W)` memory.

    Args:
        logits: `(h, w, K)` float logits at feature resolution, on any device.
        out_size: `(H, W)` output size.
        k: candidates per tap, or None for the exact argmax.
        span: patch size over stride of the grid (see `bilinear_taps`).

    Returns:
        `(H, W)` int64 class indices into `K`, on the logits' device.
    """
    if k is None:
        return _exact_upsampled_argmax(logits, out_size, span)
    height, width, classes = logits.shape
    flat = logits.reshape(height * width, classes)
    candidates, values, counts = _quad_candidates(flat, height, width, min(k, classes))
    y0, _, wy = _device_taps(height, out_size[0], span, logits.device)
    x0, _, wx = _device_taps(width, out_size[1], span, logits.device)
    taps = (y0, wy, x0, wx)
    out = candidates[..., 0][y0[:, None], x0[None, :]]  # final wherever one candidate is left
    pixel_counts = counts.to(torch.int16)[y0[:, None], x0[None, :]]
    # score the other pixels in buckets of similar candidate counts, so a few crowded
    # quads do not make every pixel score the largest candidate list
    lower, most = 1, int(counts.max())
    while lower < most:
        upper = min(2 * lower, most)
        rows, cols = ((pixel_counts > lower) & (pixel_counts <= upper)).nonzero(as_tuple=True)
        _score_pixels(out, rows, cols, candidates[..., :upper], values[:, :, :upper], taps)
        lower = upper
    return out


def upsample(maps: torch.Tensor, out_size: tuple[int, int], span: int = 1) -> torch.Tensor:
    """Bilinear upsampling of `(N, K, h, w)` maps to `(N, K, H, W)` (see `bilinear_taps`)."""
    if span == 1:
        return F.interpolate(maps, size=out_size, mode="bilinear", align_corners=False)
    y0, y1, wy = _device_taps(maps.shape[-2], out_size[0], span, maps.device)
    x0, x1, wx = _device_taps(maps.shape[-1], out_size[1], span, maps.device)
    rows = maps[..., y0, :] * (1 - wy)[:, None] + maps[..., y1, :] * wy[:, None]
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx


def _exact_upsampled_argmax(
    logits: torch.Tensor, out_size: tuple[int, int], span: int
) -> torch.Tensor:
    """`upsampled_argmax` with `k=None`: every class upsampled, a chunk at a time."""
    maps = logits.permute(2, 0, 1)[None].float()
    best = torch.full(out_size, -torch.inf, device=logits.device)
    index = torch.zeros(out_size, dtype=torch.long, device=logits.device)
    for start in range(0, maps.shape[1], EXACT_CHUNK):
        chunk = upsample(maps[:, start : start + EXACT_CHUNK], out_size, span)[0]
        values, indices = chunk.max(dim=0)
        better = values > best
        best = torch.where(better, values, best)
        index = torch.where(better, indices + start, index)
    return index


def _score_pixels(
    out: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    candidates: torch.Tensor,
    values: torch.Tensor,
    taps: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    """Write into `out` the best of its quad's candidates for each pixel `(rows, cols)`.

    `candidates` `(h, w, n)` and their tap `values` `(h, w, n, 4)`; `taps` are the
    quad anchors and second-tap weights of the output rows and columns.
    """
    y0, wy, x0, wx = taps
    chunk = max(1, BAND_ELEMENTS // (4 * candidates.shape[-1]))
    for start in range(0, rows.numel(), chunk):
        r, c = rows[start : start + chunk], cols[start : start + chunk]
        a, b = wy[r], wx[c]
        weights = torch.stack([(1 - a) * (1 - b), (1 - a) * b, a * (1 - b), a * b], dim=-1)
        quad_y, quad_x = y0[r], x0[c]
        scores = torch.einsum("pnt,pt->pn", values[quad_y, quad_x], weights)
        out[r, c] = candidates[quad_y, quad_x, scores.argmax(dim=-1)]


def upsampled_gather(
    maps: torch.Tensor,
    index: torch.Tensor,
    log_normalizer: torch.Tensor | None = None,
    span: int = 1,
) -> torch.Tensor:
    """Bilinearly upsampled value of map `index[y, x]` at each output pixel.

    Args:
        maps: `(h, w, K)` float maps at feature resolution, on any device.
        index: `(H, W)` int64 map index per output pixel, on the maps' device.
        log_normalizer: optional `(h, w)`; the maps are then read as
            `exp(maps - log_normalizer)`: with logits and their logsumexp, softmax
            probabilities without materialising the softmax.
        span: patch size over stride of the grid (see `bilinear_taps`).

    Returns:
        `(H, W)` float32 on the maps' device, equal to
        `F.interpolate(maps...)[index[y, x], y, x]`.
    """
    height, width, channels = maps.shape
    flat = maps.reshape(height * width, channels)
    norm = None if log_normalizer is None else log_normalizer.reshape(height * width)
    y0, y1, wy = _device_taps(height, index.shape[0], span, maps.device)
    x0, x1, wx = _device_taps(width, index.shape[1], span, maps.device)

    def read(cells: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        values = flat[cells, idx]
        return values if norm is None else (values - norm[cells]).exp()

    out = torch.empty(index.shape, dtype=torch.float32, device=maps.device)
    band = max(1, BAND_ELEMENTS // max(1, 4 * index.shape[1]))
    for start in range(0, index.shape[0], band):
        rows = slice(start, start + band)
        a = wy[rows, None]
        b = wx[None, :]
        idx = index[rows]
        top = read(y0[rows, None] * width + x0[None, :], idx) * (1 - b)
        top += read(y0[rows, None] * width + x1[None, :], idx) * b
        bottom = read(y1[rows, None] * width + x0[None, :], idx) * (1 - b)
        bottom += read(y1[rows, None] * width + x1[None, :], idx) * b
        out[rows] = top * (1 - a) + bottom * a
    return out
