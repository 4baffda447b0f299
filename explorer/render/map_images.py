"""The image map: catalogue thumbnails at their projected positions, or snapped to a grid
(one thumbnail per cell), as a PIL picture and a plotly figure around it. No Streamlit."""
from __future__ import annotations

import numpy as np

GRID_EXACT_MAX = 1_600      # linear assignment up to this many items, rank-based snapping above

def normalise(xy: np.ndarray) -> np.ndarray:
    """xy [N, 2] scaled into the unit square, aspect kept, centred."""
    a = np.asarray(xy, np.float64)
    if not len(a):
        return a.reshape(0, 2)
    lo, hi = a.min(0), a.max(0)
    span = float((hi - lo).max()) or 1.0
    return (a - lo) / span + (1.0 - (hi - lo) / span) / 2


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    """(rows, cols) with rows * cols >= n and cols / rows close to aspect (width / height)."""
    if n <= 0:
        return 1, 1
    cols = max(1, int(np.ceil(np.sqrt(n * aspect))))
    rows = max(1, int(np.ceil(n / cols)))
    return rows, cols


def snap_to_grid(xy: np.ndarray, rows: int | None = None, cols: int | None = None,
                 exact_max: int = GRID_EXACT_MAX) -> tuple[np.ndarray, int, int]:
    """Give each item of xy [N, 2] its own cell of a rows x cols grid, keeping neighbours
    together: -> (cell [N] = row * cols + col, all distinct; rows; cols). Row 0 is the top
    (largest y).

    Up to exact_max items the assignment minimises the total squared distance between items
    and cell centres (scipy's linear_sum_assignment on the normalised map); above it, items
    are sorted into rows by y and each row by x (O(N log N), close for even layouts)."""
    a = normalise(xy)
    n = len(a)
    if rows is None or cols is None:
        span = a.max(0) - a.min(0) if n else np.ones(2)
        aspect = float(np.clip(span[0] / span[1], 0.33, 3.0)) if n and span[1] > 0 else 1.0
        rows, cols = grid_shape(n, aspect)
    if rows * cols < n:
        raise ValueError(f"a {rows} x {cols} grid has fewer cells than {n} items")
    if n == 0:
        return np.zeros(0, np.int64), rows, cols
    lo, hi = a.min(0), a.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    u = (a - lo) / span                           # both axes fill [0, 1], like the grid
    if n <= exact_max:
        from scipy.optimize import linear_sum_assignment
        r, c = np.divmod(np.arange(rows * cols), cols)
        centres = np.stack([(c + 0.5) / cols, 1.0 - (r + 0.5) / rows], 1)
        cost = ((u[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        item, cell = linear_sum_assignment(cost)
        out = np.empty(n, np.int64)
        out[item] = cell
        return out, rows, cols
    order = np.argsort(-u[:, 1], kind="stable")       # top rows first
    out = np.empty(n, np.int64)
    per_row = -(-n // rows)
    for r in range(rows):
        members = order[r * per_row:(r + 1) * per_row]
        if not len(members):
            break
        members = members[np.argsort(u[members, 0], kind="stable")]
        start = (cols - len(members)) // 2            # centre a short last row
        out[members] = r * cols + start + np.arange(len(members))
    return out, rows, cols


def representative_subset(xy: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """At most k indices (into xy [N, 2]) that cover the map evenly: the map is cut into the
    finest square grid with at most k occupied cells, and each occupied cell contributes the
    item nearest its centre (a spatially stratified sample). All of them when N <= k."""
    a = normalise(xy)
    n = len(a)
    if n <= k:
        return np.arange(n)
    best = None
    lo, hi = 1, max(2, int(np.ceil(np.sqrt(k))) * 4)
    while lo <= hi:
        g = (lo + hi) // 2
        cell = _cells(a, g)
        if len(np.unique(cell)) <= k:
            best, lo = g, g + 1
        else:
            hi = g - 1
    g = best or 1
    cell = _cells(a, g)
    centre = (np.floor(a * g).clip(0, g - 1) + 0.5) / g
    d = ((a - centre) ** 2).sum(1)
    rng = np.random.default_rng(seed)
    d = d + rng.random(n) * 1e-12                   # seeded tie-break
    order = np.lexsort((d, cell))
    first = np.ones(n, bool)
    first[1:] = cell[order][1:] != cell[order][:-1]
    return np.sort(order[first])


def _cells(a: np.ndarray, g: int) -> np.ndarray:
    ij = np.floor(a * g).clip(0, g - 1).astype(np.int64)
    return ij[:, 1] * g + ij[:, 0]


def _thumbs(images: np.ndarray, thumb: int) -> list:
    from PIL import Image
    out = []
    for im in np.asarray(images, np.uint8):
        t = Image.fromarray(im, "RGB")
        if t.width != thumb:
            t = t.resize((thumb, thumb), Image.LANCZOS if thumb < t.width else Image.NEAREST)
        out.append(t)
    return out


def grid_image(images: np.ndarray, cells: np.ndarray, rows: int, cols: int, thumb: int = 48,
               pad: int = 1, bg: tuple[int, int, int] = (255, 255, 255)):
    """Thumbnails of images [K, S, S, 3] in their grid cells (from snap_to_grid) -> PIL image
    of cols * (thumb + pad) x rows * (thumb + pad) pixels (`sheets.tile_grid`)."""
    from explorer.render.sheets import tile_grid
    return tile_grid(_thumbs(images, thumb), cols, rows, (thumb, thumb),
                     cells=np.asarray(cells, np.int64), pad=pad, bg=bg)[0]


def scatter_image(images: np.ndarray, xy: np.ndarray, size: int = 2000, thumb: int = 40,
                  bg: tuple[int, int, int] = (255, 255, 255)):
    """Thumbnails of images [K, S, S, 3] drawn at their positions xy [K, 2] (y up), later
    items over earlier ones, on a canvas whose longer side is `size` px and whose aspect ratio
    is the map's (within 1:3 .. 3:1) -> PIL image."""
    from PIL import Image
    a = np.asarray(xy, np.float64)
    if not len(a):
        return Image.new("RGB", (size, size), bg)
    lo, hi = a.min(0), a.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    aspect = float(np.clip(span[1] / span[0], 1 / 3, 3))
    w, h = (size, max(thumb + 1, int(round(size * aspect)))) if aspect <= 1 else \
        (max(thumb + 1, int(round(size / aspect))), size)
    canvas = Image.new("RGB", (w, h), bg)
    u = (a - lo) / span
    for t, (x, y) in zip(_thumbs(images, thumb), u):
        canvas.paste(t, (int(round(x * (w - thumb))), int(round((1.0 - y) * (h - thumb)))))
    return canvas


def to_jpeg(img, quality: int = 88) -> bytes:
    """JPEG bytes of a PIL image (`pictures.image_bytes`)."""
    from explorer.render.pictures import image_bytes
    return image_bytes(img.convert("RGB"), "JPEG", quality=quality)


def image_figure(img, height: int | None = None, size: tuple[int, int] | None = None,
                 mime: str = "image/jpeg"):
    """A zoomable plotly figure showing one picture: a PIL image, or its encoded bytes with
    size = (width, height). The height defaults to one that fits the picture's aspect ratio
    in a ~900 px wide column."""
    import base64

    import plotly.graph_objects as go
    if isinstance(img, (bytes, bytearray)):
        if size is None:
            raise ValueError("size=(width, height) is needed with encoded bytes")
        data, (w, h) = bytes(img), size
    else:
        data, (w, h), mime = to_jpeg(img), img.size, "image/jpeg"
    uri = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    if height is None:
        height = int(np.clip(900 * h / max(1, w), 300, 900))
    fig = go.Figure(go.Image(source=uri, hoverinfo="skip"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=0, b=0), dragmode="zoom",
                      plot_bgcolor="white")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig
