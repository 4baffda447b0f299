"""Checking a suggested factor name against the model's own pictures.

A dimension's suggested name (explorer.metrics.association.suggest_names: the metadata
attribute it follows over the catalogue) is applied only when the model's own pictures agree:
the dimension is traversed around a few products, the traversals decoded, and a model that
reads the attribute from *pixels* (fitted on the model's reconstructions of catalogue items,
so on pictures like the decoded ones, and blind to the latent code) must see the named
attribute change along the traversal, in the named direction. Otherwise the factor is "dim N"
with a one-line description of what visibly changes, measured on the decoded pictures.
The result, {dim: FactorName}, is stored by explorer.latent.naming.save_checked.
"""
from __future__ import annotations

import numpy as np

from explorer.latent.naming import SUGGESTED, FactorName

TRAVERSE = np.linspace(-2.5, 2.5, 7)   # prior units
K_READER = 15          # neighbours of the pixel reader


def _as_float(images: np.ndarray) -> np.ndarray:
    a = np.asarray(images)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def foreground(images: np.ndarray, threshold: float = 0.12) -> np.ndarray:
    """[N, S, S, 3] -> bool [N, S, S]: pixels that are not the white background."""
    a = _as_float(images)
    return (1.0 - a.min(axis=-1)) > threshold


def pixel_features(images: np.ndarray, cells: int = 16) -> np.ndarray:
    """[N, S, S, 3] -> [N, 4 * cells²]: block-mean colour and foreground share on a cells x
    cells grid (shape and colour, nothing of the latent code)."""
    a = _as_float(images)
    n, s = a.shape[0], a.shape[1]
    k = max(1, s // cells)
    a = a[:, :k * cells, :k * cells]
    col = a.reshape(n, cells, k, cells, k, 3).mean(axis=(2, 4))
    fg = foreground(a).reshape(n, cells, k, cells, k).mean(axis=(2, 4))
    return np.concatenate([col.reshape(n, -1), fg.reshape(n, -1)], axis=1)


def _traversals(decode, mu: np.ndarray, dim: int, anchors: np.ndarray) -> np.ndarray:
    """Decoded traversals uint8 [A, T, S, S, 3] of dim around each anchor's latent mean."""
    z = np.repeat(mu[anchors][:, None, :], len(TRAVERSE), axis=1).astype(np.float32)
    z[:, :, dim] = mu[anchors, dim][:, None] + TRAVERSE[None, :]
    imgs = decode(z.reshape(-1, mu.shape[1]))
    return np.asarray(imgs).reshape(len(anchors), len(TRAVERSE), *np.asarray(imgs).shape[1:])


def describe_change(traversals: np.ndarray) -> str:
    """One line saying what visibly changes between the two ends of decoded traversals
    [A, T, S, S, 3]: the shoe's height, position or size (its foreground outline), and/or the
    colour or lightness of the upper, the sole or the whole shoe (pixel statistics of the
    regions both ends share), e.g. "colour of the upper", "height of the shoe (taller →)",
    "position of the shoe (left–right) and overall brightness"."""
    lo, hi = _as_float(traversals[:, 0]), _as_float(traversals[:, -1])
    m_lo, m_hi = foreground(lo), foreground(hi)
    inter = m_lo & m_hi
    s = lo.shape[1]

    def extent(m, axis):
        occupied = m.any(axis=axis)
        first = np.where(occupied.any(1), occupied.argmax(1), s)
        last = np.where(occupied.any(1), s - occupied[:, ::-1].argmax(1), 0)
        return first, last

    t_lo, b_lo = extent(m_lo, 2)
    t_hi, b_hi = extent(m_hi, 2)
    l_lo, r_lo = extent(m_lo, 1)
    l_hi, r_hi = extent(m_hi, 1)
    h_lo = np.maximum(b_lo - t_lo, 1)
    height = float(np.median(((b_hi - t_hi) - h_lo) / h_lo))
    left, right = float(np.median(l_hi - l_lo)), float(np.median(r_hi - r_lo))
    area = float(np.median(m_hi.sum((1, 2)) / np.maximum(m_lo.sum((1, 2)), 1)))
    parts = []
    if abs(height) > 0.10:
        parts.append("height of the shoe (" + ("taller" if height > 0 else "lower") + " →)")
    elif min(abs(left), abs(right)) >= 1.0 and left * right > 0:   # both ends move together
        parts.append("position of the shoe (left–right)")
    elif abs(area - 1.0) > 0.15:
        parts.append("size of the shoe (" + ("bigger" if area > 1 else "smaller") + " →)")
    # colour: split each shoe at 78% of its height (sole below), compare the two regions
    rows = np.arange(s)[None, :, None]
    cut = (t_lo + 0.78 * (b_lo - t_lo))[:, None, None]
    sole = inter & (rows >= cut)
    upper = inter & (rows < cut)
    diff = hi - lo
    light = diff.mean(-1)

    def change(region):
        n = np.maximum(region.sum((1, 2)), 1)
        total = (np.abs(diff).mean(-1) * region).sum((1, 2)) / n
        lightness = (np.abs(light) * region).sum((1, 2)) / n
        return float(np.median(total)), float(np.median(lightness))

    up, up_l = change(upper)
    so, so_l = change(sole)
    whole, whole_l = change(inter)
    if whole >= 0.04:
        if up >= 1.5 * so:
            region, tot, lig = "upper", up, up_l
        elif so >= 1.5 * up:
            region, tot, lig = "sole", so, so_l
        else:
            region, tot, lig = "whole shoe", whole, whole_l
        if lig >= 0.75 * tot:
            parts.append("overall brightness" if region == "whole shoe"
                         else f"lightness of the {region}")
        else:
            parts.append(f"colour of the {region}")
    return " and ".join(parts) if parts else "little visible change"


def _parse_suggestion(text: str, columns) -> tuple[str, str, str] | None:
    """"col: low vs high" -> (column, "categorical", ""), "col ↑" -> (column, "numeric", "↑");
    the column as in the metadata (factor_ prefix restored when needed); None otherwise."""
    from explorer.data.schema import FACTOR_PREFIX
    cols = set(map(str, columns))

    def column(name):
        name = name.strip()
        return name if name in cols else (FACTOR_PREFIX + name
                                          if FACTOR_PREFIX + name in cols else None)
    if text.endswith((" ↑", " ↓")):
        c = column(text[:-2])
        return (c, "numeric", text[-1]) if c else None
    if ": " in text and " vs " in text:
        c = column(text.split(": ", 1)[0])
        return (c, "categorical", "") if c else None
    return None


class PixelReader:
    """Reads metadata attributes off pictures by their nearest neighbours among the model's
    reconstructions of catalogue items (pixel features only, never the latent code).

    Nearest neighbours do not extrapolate: a traversal that only recolours a shoe lands among
    reconstructions of the same shape, so a shape attribute's reading stays put, where a
    linear reader would follow any pixel change."""

    def __init__(self, recon_images: np.ndarray, metadata, seed: int = 0, k: int = K_READER):
        from explorer.latent.index import LatentIndex
        self.metadata = metadata.reset_index(drop=True)
        n = len(recon_images)
        perm = np.random.default_rng(seed).permutation(n)
        self.train, self.test = perm[:int(0.75 * n)], perm[int(0.75 * n):]
        feats = pixel_features(recon_images)
        self.k = min(k, len(self.train))
        self.nn = LatentIndex(feats[self.train], method="exact")   # the app's one k-NN
        self.test_nbrs = self.nn.query(feats[self.test], k=self.k)[0]
        self.reliability: dict[str, float] = {}

    def neighbours(self, images: np.ndarray) -> np.ndarray:
        """[M, S, S, 3] -> [M, k] rows of self.train."""
        return self.nn.query(pixel_features(images), k=self.k)[0]

    def _values(self, col: str, kind: str):
        s = self.metadata[col]
        if kind == "numeric":
            return s.to_numpy(dtype=np.float64)
        return s.astype(str).where(s.notna(), None).to_numpy(dtype=object)

    def reliable(self, col: str, kind: str) -> float:
        """Held-out R² (numeric) or accuracy gain over the majority class (categorical)."""
        if col not in self.reliability:
            v = self._values(col, kind)
            truth, nb = v[self.test], v[self.train][self.test_nbrs]
            if kind == "numeric":
                ok = np.isfinite(truth) & np.isfinite(nb).all(1)
                pred = nb[ok].mean(1)
                var = float(np.var(truth[ok])) if ok.sum() > 2 else 0.0
                score = 1.0 - float(np.mean((pred - truth[ok]) ** 2)) / var if var > 0 else 0.0
            else:
                ok = np.array([t is not None for t in truth])
                pred = [max(set(row), key=list(row).count) for row in nb[ok]]
                acc = float(np.mean([p == t for p, t in zip(pred, truth[ok])])) if ok.any() else 0
                vals, counts = np.unique(truth[ok].astype(str), return_counts=True)
                base = counts.max() / counts.sum() if len(counts) else 1.0
                score = (acc - base) / (1.0 - base) if base < 1 else 0.0
            self.reliability[col] = score
        return self.reliability[col]

    def move(self, col: str, kind: str, lo_nbrs: np.ndarray, hi_nbrs: np.ndarray) -> float:
        """How far the attribute's reading moves from the low to the high end, median over
        anchors: numeric in spreads (signed), categorical as total variation in [0, 1]."""
        v = self._values(col, kind)[self.train]
        if kind == "numeric":
            spread = float(np.nanstd(v)) or 1.0
            return float(np.nanmedian(np.nanmean(v[hi_nbrs], 1) - np.nanmean(v[lo_nbrs], 1))) \
                / spread
        moves = []
        for lo, hi in zip(v[lo_nbrs], v[hi_nbrs]):
            cats = set(lo) | set(hi)
            moves.append(0.5 * sum(abs(list(lo).count(c) - list(hi).count(c)) for c in cats)
                         / len(lo))
        return float(np.median(moves))

    def share(self, col: str, value: str, nbrs: np.ndarray) -> np.ndarray:
        """[M] share of each picture's neighbours whose col is value."""
        v = self._values(col, "categorical")[self.train]
        return (v[nbrs] == value).mean(1)


def check_suggestion(reader: PixelReader, mu: np.ndarray, dim: int, suggestion: str,
                     trav: np.ndarray, kinds: dict[str, str],
                     recon_idx: np.ndarray) -> tuple[bool, str]:
    """Is the suggested attribute what changes along dim's decoded traversals trav
    [A, T, S, S, 3]? (confirmed, evidence).

    Confirmed when the attribute can be read from pictures (held-out R² ≥ 0.3, or accuracy
    well over the majority class), its reading moves along the traversal in the named
    direction (numbers: monotonic, Spearman ≥ 0.7 over the anchors' median, by at least half
    a spread; classes: the named high class gains ≥ 0.5 of the neighbours), and no other
    readable attribute of the same kind moves clearly more (the named one moves at least 0.7
    times the most-moved one): the named attribute is *what* changes, not something that
    rides along."""
    from scipy.stats import spearmanr

    parsed = _parse_suggestion(suggestion, reader.metadata.columns)
    if parsed is None:
        return False, "no attribute to check"
    col, kind, arrow = parsed
    kind = kinds.get(col, kind)
    rel = reader.reliable(col, kind)
    if rel < 0.3:
        return False, f"{col} cannot be read from the pictures (score {rel:.2f})"
    a, t = trav.shape[:2]
    nbrs = reader.neighbours(trav.reshape(a * t, *trav.shape[2:])).reshape(a, t, -1)
    lo, hi = nbrs[:, 0], nbrs[:, -1]
    same = {col, col[len("factor_"):], "factor_" + col}     # X and factor_X: one attribute
    rivals = {c: abs(reader.move(c, k, lo, hi)) for c, k in kinds.items()
              if k == kind and c not in same and reader.reliable(c, k) >= 0.3}
    top = max(rivals.items(), key=lambda kv: kv[1], default=(None, 0.0))
    if kind == "numeric":
        v = reader._values(col, kind)[reader.train]
        pred = np.nanmean(v[nbrs], axis=2)
        sign = 1.0 if arrow == "↑" else -1.0
        rho = float(np.median([sign * spearmanr(TRAVERSE, p)[0] if np.ptp(p) > 0 else 0.0
                               for p in pred]))
        moved = sign * reader.move(col, kind, lo, hi)
        good = rho >= 0.7 and moved >= 0.5 and moved >= 0.7 * top[1]
        why = (f"{col} read from the decoded pictures moves {moved:+.1f} spreads "
               f"(Spearman {rho:.2f})")
        return good, why + (f"; {top[0]} moves {top[1]:.1f}" if top[0] else "")
    codes = mu[recon_idx, dim]
    labels = reader._values(col, kind)
    cats = [c for c in set(labels) if c is not None]
    means = {c: float(np.mean(codes[labels == c])) for c in cats
             if (labels == c).sum() >= max(3, 0.01 * len(labels))}
    if len(means) < 2:
        return False, f"{col}: too few items per class to check"
    high = max(means, key=means.get)
    gain = float(np.median(reader.share(col, high, hi) - reader.share(col, high, lo)))
    moved = reader.move(col, kind, lo, hi)
    good = gain >= 0.5 and moved >= 0.7 * top[1]
    why = f"{col} read from the decoded pictures: {high} gains {gain:.2f} of the neighbours"
    return good, why + (f"; {top[0]} changes {top[1]:.2f}" if top[0] else "")


def checked_names(decode, mu: np.ndarray, metadata, suggestions: list[str],
                  dims: list[int] | None = None, saved: dict[int, str] | None = None,
                  anchors: int = 12, recon_items: int = 1500,
                  seed: int = 0) -> dict[int, FactorName]:
    """{dim: FactorName} for dims (default all): a person's saved name first, else the
    suggestion when check_suggestion confirms it (labelled "(suggested)"), else "dim N" with
    describe_change's description. decode: [M, D] -> uint8 [M, S, S, 3]."""
    from explorer.metrics.association import column_kinds
    saved = saved or {}
    mu = np.asarray(mu, np.float32)
    dims = list(range(mu.shape[1])) if dims is None else list(dims)
    rng = np.random.default_rng(seed)
    n = len(mu)
    anchor_idx = rng.choice(n, size=min(anchors, n), replace=False)
    recon_idx = np.sort(rng.choice(n, size=min(recon_items, n), replace=False))
    reader, kinds = None, None
    out: dict[int, FactorName] = {}
    for d in dims:
        trav = _traversals(decode, mu, d, anchor_idx)
        description = describe_change(trav)
        suggestion = suggestions[d] if d < len(suggestions) else ""
        if suggestion in ("inactive", "no clear attribute"):
            suggestion = ""
        confirmed, evidence = False, "no suggestion"
        if suggestion:
            if reader is None:
                sub = metadata.iloc[recon_idx].reset_index(drop=True)
                reader = PixelReader(decode(mu[recon_idx]), sub, seed)
                kinds = column_kinds(sub)
            confirmed, evidence = check_suggestion(reader, mu, d, suggestion, trav, kinds,
                                                   recon_idx)
        if d in saved:
            label, source = f"dim {d} · {saved[d]}", "saved"
        elif confirmed:
            label, source = f"dim {d} · {suggestion} ({SUGGESTED})", SUGGESTED
        else:
            label, source = f"dim {d}", "none"
        out[d] = FactorName(d, label, source, suggestion, confirmed, evidence, description)
    return out
