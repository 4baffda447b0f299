"""Live decoding in the browser: a Streamlit component (components v2) that runs the bundle's
decoder.onnx with onnxruntime-web (WebAssembly, vendored under explorer/app/static/live_decoder,
no CDN), so the picture follows a slider continuously while it is dragged. With closest=k the
browser also finds and shows the k closest real products on release (closest.js, over the files
of explorer.app.live_catalogue), so a release sends the server nothing: the values reach it in
the URL, which Streamlit's frontend sends with every later rerun. With equation=[...] it also
draws the equation picture and makes its download (explorer.app.live_equation).

Python API (pages call these; no torch here)::

    from explorer.app.live_decoder import Control, live_sliders, live_path, browser_session

    res = live_sliders(bundle, key="sliders", base=z_anchor,          # [D]
                       basis=np.eye(D)[dims],                          # [K, D]: one row per control
                       controls=[Control("dim 3", param="d3", help="...")],
                       values=[0.0])                                   # the starting values
    res.values   # [K] the settled values; res.z the settled latent [D]
    res.settled  # True in the run that follows a release in the browser
    res.live     # True: the browser decodes; False: no WebAssembly, the server decodes;
                 # None: not heard yet
    res.closest_shown  # with closest=k: the component shows the closest products itself

    res = live_path(bundle, key="scrub", a=za, b=zb, method="spherical", t=0.5, steps=8)
    res.values == [t]; res.z the point at t on the path (explorer.latent.ops's lerp / slerp)

z = base + values @ basis (sliders) or the point at t on the path; decoded pixels match
`Bundle.decode` within 1/255 (tests/test_browser_live.py). Each control may name a query
parameter: on release the browser replaces the URL in place (history.replaceState) and, where
the server hears the release, it writes st.query_params to the same string, so Back returns to
the page as it was left and a copied link reopens it. A value at its default leaves the URL.
Streamlit pushes a history entry whenever the server changes st.query_params; once the
component has loaded, such a push that keeps the page's path is made a replace (one history
entry per page visit).

Where WebAssembly is missing the component keeps its sliders and shows the picture the server
decodes on each release (the fallback). Where there is no browser at all (AppTest, whose
sessions carry no HTTP headers) `browser_session()` is False and pages use st.slider instead.

Assets are served by Streamlit's component route (/_stcore/bidi-components/...). Streamlit
finds an asset_dir through an installed package's pyproject.toml; this module also registers
the same manifest itself at first use, so the app works from a plain checkout (pyproject.toml
declares it for installed copies). Decoders are served from a folder holding only ONNX files:
<$KICKSPACE_DATA_DIR or ./data>/decoders/served/<sha256[:16]>.onnx.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from explorer.data.atomic import atomic_write_bytes
from explorer.app.live_equation import equation_spec
from explorer.render.pictures import pixel_scale

PROJECT = "explorer"
COMPONENT = f"{PROJECT}.live_decoder"
DECODERS = "kickspace.decoders"
FONTS = "kickspace.fonts"
ASSET_DIR = Path(__file__).resolve().parent / "static" / "live_decoder"


@dataclass(frozen=True)
class Control:
    """One slider of the live component."""

    label: str                   # shown as plain text (never Markdown or HTML)
    param: str | None = None     # query parameter that carries the settled value
    help: str = ""
    min: float = -3.0
    max: float = 3.0
    step: float = 0.1
    default: float = 0.0


@dataclass
class LiveResult:
    values: list[float]
    z: np.ndarray
    settled: bool = False
    live: bool | None = None
    closest_shown: bool = False   # the component shows the closest products itself
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- maths (mirrors JS)
def point_on_path(a: np.ndarray, b: np.ndarray, t: float, method: str = "linear") -> np.ndarray:
    """The point at t in [0, 1] on explorer.latent.ops's path from a to b -> [D] float32 (the same
    formula as lerp/slerp, for one continuous t; the JavaScript computes it the same way)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = float(min(1.0, max(0.0, t)))
    if t == 0.0:
        return np.asarray(a, np.float32).copy()
    if t == 1.0:
        return np.asarray(b, np.float32).copy()
    if method in ("spherical", "slerp"):
        na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
        if na >= 1e-8 and nb >= 1e-8:
            cos = float(np.clip(np.dot(a64 / na, b64 / nb), -1.0, 1.0))
            omega = math.acos(cos)
            if math.sin(omega) >= 1e-6:
                d = (math.sin((1 - t) * omega) * a64 / na
                     + math.sin(t * omega) * b64 / nb) / math.sin(omega)
                return (d * ((1 - t) * na + t * nb)).astype(np.float32)
    return ((1 - t) * a64 + t * b64).astype(np.float32)


def combine_basis(base: np.ndarray, basis: np.ndarray, values) -> np.ndarray:
    """base [D] + values [K] @ basis [K, D] -> [D] float32 (summed in float64, as the JS)."""
    out = np.asarray(base, np.float64).copy()
    for v, row in zip(values, np.asarray(basis, np.float64)):
        out += float(v) * row
    return out.astype(np.float32)


def url_number(v: float) -> str:
    """A value as the browser writes it in the URL (JavaScript's String(number))."""
    v = float(v)
    return str(int(v)) if v == int(v) else repr(v)


def snap(v: float, c: Control) -> float:
    """Clamp to the control's range and round to its step, as the browser's range input."""
    v = min(c.max, max(c.min, float(v)))
    digits = max(0, -int(math.floor(math.log10(c.step)))) if c.step > 0 else 6
    return round(round((v - c.min) / c.step) * c.step + c.min, digits)


# ---------------------------------------------------------------------------- serving
def _manager():
    from streamlit.runtime import Runtime
    if not Runtime.exists():
        return None
    return Runtime.instance().bidi_component_registry


def _served_dir() -> Path:
    from explorer.bundle.onnx import cache_dir
    d = (cache_dir() / "served").resolve()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _register(manager) -> None:
    """Declare the asset folders on this runtime, as an installed pyproject.toml would: the
    component's own (JS, CSS, onnxruntime-web) and the folder of served decoders (a
    placeholder component whose only use is its asset route)."""
    from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest
    if manager.get_component_asset_root(COMPONENT) is None:
        manager.register_from_manifest(ComponentManifest(
            name=PROJECT, version="0", components=[ComponentConfig(
                name="live_decoder", asset_dir="static/live_decoder")]),
            Path(__file__).resolve().parent)
    if manager.get_component_asset_root(DECODERS) is None:
        manager.register_from_manifest(ComponentManifest(
            name="kickspace", version="0", components=[ComponentConfig(
                name="decoders", asset_dir=".")]), _served_dir())
    if manager.get_component_asset_root(FONTS) is None:   # the pictures' one font (DejaVu Sans)
        from explorer.render.pictures import FONT_PATH
        manager.register_from_manifest(ComponentManifest(
            name="kickspace", version="0", components=[ComponentConfig(
                name="fonts", asset_dir=".")]), FONT_PATH.parent)
    from explorer.app.live_catalogue import COMPONENT as CATALOGUE, served_root
    if manager.get_component_asset_root(CATALOGUE) is None:
        manager.register_from_manifest(ComponentManifest(
            name="kickspace", version="0", components=[ComponentConfig(
                name="catalogue", asset_dir=".")]), served_root())


_MOUNTS: dict[int, Any] = {}


def _mount_fn():
    """The component's mount function on the running runtime (registered once per runtime)."""
    manager = _manager()
    fn = _MOUNTS.get(id(manager))
    if fn is None:
        _register(manager)
        fn = st.components.v2.component(COMPONENT, js="live_decoder.js",
                                        css="live_decoder.css",
                                        html='<div class="ks-live"></div>')
        _MOUNTS.clear()
        _MOUNTS[id(manager)] = fn
    return fn


@st.cache_resource(show_spinner=False, max_entries=16)
def _decoder_url(path: str, weights_sha: str, files_key: str) -> str:
    """Make sure the bundle has its decoder.onnx and copy it, content-addressed, into the
    served folder -> its file name there."""
    from explorer.app import cache
    from explorer.bundle.onnx import ensure_decoder_onnx
    b = cache.get_bundle(path)
    src = ensure_decoder_onnx(b.path, b.info, b.model)
    data = src.read_bytes()
    name = hashlib.sha256(data).hexdigest()[:16] + ".onnx"
    target = _served_dir() / name
    if not target.is_file() or target.stat().st_size != len(data):
        atomic_write_bytes(target, data)
    return name


def decoder_file_name(bundle) -> str:
    """The served name of the bundle's decoder (exported first if the bundle predates ONNX)."""
    sha = bundle.info["files"]["model.safetensors"]["sha256"]
    return _decoder_url(str(Path(bundle.path).resolve()), sha,
                        str(bundle.info["files"].get("decoder.onnx", {}).get("sha256")))


# ---------------------------------------------------------------------------- helpers
def browser_session() -> bool:
    """False where no browser is attached (AppTest sessions carry no HTTP headers)."""
    try:
        return bool(st.context.headers)
    except Exception:  # noqa: BLE001 - no context at all: not a browser either
        return False


def png_data_url(img: np.ndarray) -> str:
    from explorer.render.pictures import data_url
    return data_url(img, "PNG", compress_level=1)


def _floats(a) -> list[float]:
    return [float(x) for x in np.asarray(a, np.float32).ravel()]


def _values_from(key: str, controls: list[Control], values) -> tuple[list[float], bool, Any]:
    state = st.session_state.get(key)
    settled = None
    try:
        settled = state["settled"] if state is not None else None
    except (KeyError, TypeError):
        settled = None
    ticket = st.session_state.get(f"_{key}__ticket")
    fresh = isinstance(settled, dict) and settled.get("n") != ticket and \
        isinstance(settled.get("values"), list) and len(settled["values"]) == len(controls)
    if fresh:
        st.session_state[f"_{key}__ticket"] = settled.get("n")
        vals = [snap(v, c) if isinstance(v, (int, float)) and math.isfinite(v) else c.default
                for v, c in zip(settled["values"], controls)]
        return vals, True, settled
    return [snap(v, c) for v, c in zip(values, controls)], False, settled


def sync_query_params(controls: list[Control], values: list[float]) -> None:
    """Write the controls' values into st.query_params in the order the browser did
    (existing keys in place, new ones appended, defaults removed), so the echo equals the
    URL the browser already shows and pushes no history entry."""
    qp = st.query_params
    for c, v in zip(controls, values):
        if not c.param:
            continue
        if v == c.default:
            if c.param in qp:
                del qp[c.param]
        elif qp.get(c.param) != url_number(v):
            qp[c.param] = url_number(v)


def values_from_url(controls: list[Control]) -> list[float]:
    """The controls' values from st.query_params (defaults where absent or unreadable)."""
    out = []
    for c in controls:
        raw = st.query_params.get(c.param) if c.param else None
        try:
            v = float(raw) if raw is not None else c.default
        except ValueError:
            v = c.default
        out.append(snap(v, c) if math.isfinite(v) else c.default)
    return out


def _mount(bundle, key: str, spec: dict, controls: list[Control], values: list[float],
           z: np.ndarray, settled_state, *, display: int, caption: str, alt: str,
           reset: bool, server_image: bool, echo: bool) -> None:
    live = isinstance(settled_state, dict) and settled_state.get("live")
    data = {
        "model": decoder_file_name(bundle),
        "size": bundle.image_size, "dim": bundle.latent_dim,
        "scale": pixel_scale(bundle.image_size, display),
        "phone_scale": pixel_scale(bundle.image_size, min(display, 256)),
        "controls": [{"label": c.label, "param": c.param, "help": c.help, "min": c.min,
                      "max": c.max, "step": c.step, "default": c.default} for c in controls],
        "values": values, "caption": caption, "alt": alt, "reset": reset,
        # the release these values answer: the browser ignores its own echo
        "echo": settled_state.get("n") if echo and isinstance(settled_state, dict) else None,
        # the picture of these values decoded on the server: the first paint, and the
        # picture itself where WebAssembly is missing; skipped once the browser decodes
        "image": None if (live and not server_image) else png_data_url(bundle.decode(z[None])[0]),
        **spec,
    }
    fn = _mount_fn()
    fn(key=key, data=data, default={"settled": None}, on_settled_change=_noop,
       width="stretch", height="content")


def _noop() -> None:
    pass


def live_sliders(bundle, *, key: str, base: np.ndarray, basis: np.ndarray,
                 controls: list[Control], values=None, display: int = 512, caption: str = "",
                 alt: str = "decoded sneaker", reset: bool = True,
                 server_image: bool = False, closest: int = 0,
                 closest_title: str = "Closest real products",
                 notify: bool = True, equation: list | None = None) -> LiveResult:
    """Sliders that move a latent point, decoded live in the browser (see the module doc).

    base [D], basis [K, D], one Control per basis row. values: where to start when the
    browser has not settled new ones (first run, Back, a link); None: the controls' query
    parameters (their defaults where absent). The browser applies them when they differ from
    the server's last values or base/basis/controls changed: a rerun that repeats the same
    start keeps what was moved there (the home hero). A release writes the values to those
    parameters (sync_query_params). closest > 0: the component finds and shows the closest
    real products itself (res.closest_shown; explorer.app.live_catalogue). notify=False: the
    server needs nothing from a release (the page shows nothing that depends on the values).
    equation [(operator, image [S, S, 3], label, control index or None)]: the component also
    draws the equation picture (terms, "=", the decoded picture; "0.5 × A" under a weighted
    term) and offers it as a PNG download, always for the values of the picture it shows
    (explorer.render.pictures.equation_picture's layout and font). Either way, where the
    browser decodes, a release sends the server nothing; the values reach it in the URL with
    its next rerun."""
    basis = np.atleast_2d(np.asarray(basis, np.float32))
    if len(basis) != len(controls) or (values is not None and len(list(values)) != len(controls)):
        raise ValueError(f"{len(controls)} controls need as many basis rows and values")
    if values is None:
        values = values_from_url(controls)
    vals, settled, state = _values_from(key, controls, list(values))
    if settled:
        sync_query_params(controls, vals)   # the browser already shows this URL
    z = combine_basis(base, basis, vals)
    spec = {"mode": "sliders", "base": _floats(base), "basis": [_floats(r) for r in basis],
            "closest": _closest_spec(bundle, closest, closest_title), "quiet": not notify,
            "equation": equation_spec(equation)}
    _mount(bundle, key, spec, controls, vals, z, state, display=display, caption=caption,
           alt=alt, reset=reset, server_image=server_image, echo=settled)
    live = state.get("live") if isinstance(state, dict) else None
    return LiveResult(vals, z, settled, live, _closest_shown(spec, state))


def _closest_spec(bundle, k: int, title: str) -> dict | None:
    """What the browser needs to find and show the k closest real products itself
    (explorer.app.live_catalogue), or None: the page shows them from the server."""
    if k <= 0:
        return None
    from explorer.app.live_catalogue import served_catalogue
    served = served_catalogue(bundle)
    return None if served is None else {"k": int(k), "title": title, **served,
                                        "scale": pixel_scale(served["size"], 110)}


def _closest_shown(spec: dict, state) -> bool:
    # the browser says so with its release when it could not load the catalogue
    failed = isinstance(state, dict) and state.get("closest") is False
    return spec.get("closest") is not None and not failed


PATH_CONTROL = Control("position along the path", param="t", min=0.0, max=1.0, step=0.005,
                       default=0.0, help="drag to walk from the start to the end")


def live_path(bundle, *, key: str, a: np.ndarray, b: np.ndarray, method: str,
              t: float | None = None, steps: int = 0, display: int = 512,
              caption: str = "", alt: str = "decoded sneaker",
              server_image: bool = False, closest: int = 0,
              closest_title: str = "Closest real products") -> LiveResult:
    """A scrubber along the path from a to b (linear or spherical), decoded live; steps > 0
    marks the path's step positions on the track. t: where to start (None: the URL's ?t=)."""
    control = PATH_CONTROL
    vals, settled, state = _values_from(key, [control],
                                        values_from_url([control]) if t is None else [t])
    if settled:
        sync_query_params([control], vals)
    z = point_on_path(a, b, vals[0], method)
    spec = {"mode": "path", "a": _floats(a), "b": _floats(b), "method": method,
            "ticks": int(steps), "closest": _closest_spec(bundle, closest, closest_title)}
    _mount(bundle, key, spec, [control], vals, z, state, display=display, caption=caption,
           alt=alt, reset=False, server_image=server_image, echo=settled)
    live = state.get("live") if isinstance(state, dict) else None
    return LiveResult(vals, z, settled, live, _closest_shown(spec, state))
