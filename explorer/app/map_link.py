"""The catalogue map's selection in the URL (`sel`): a selection made on the map, grown
(Shift) or cut (Alt) by later ones; how it is written down so that a reload or a shared link
finds the same products; and reading it back. The page (pages/catalogue_map.py) calls these;
the selection itself is st.session_state["pick"] (map_sections.pick)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from explorer.app import cache_map, map_sections, mapcomponent
from explorer.app.widgets import esc
from explorer.render import map_selection

ss = st.session_state


def pick_step(label: str, indices, definition: dict | None, op: str, md: pd.DataFrame) -> None:
    """A selection made on the map with `op`: "set" makes it the selection (pick); "add"
    (Shift held) adds it to the selection, "remove" (Alt held) takes it away. The label says
    what happened; the URL keeps the steps (map_selection.combined_definition) when it can.
    definition None (a click) with Shift or Alt: the step is kept as the products' SKUs."""
    if definition is None and op != "set":
        definition = {"kind": "skus", "skus": map_sections.skus(md, indices)}
    p = ss.get("pick")
    if op not in ("add", "remove") or not p:
        if op == "remove":            # taken from nothing: nothing is selected, as before
            return
        map_sections.pick(label, indices, definition)
        return
    before = np.asarray(p["indices"], np.int64)
    after = map_selection.combine(before, indices, op, len(md))
    changed = abs(len(after) - len(before))
    few = p["indices"] if 0 < len(p["indices"]) <= map_selection.MAX_SKUS else None
    d = map_selection.combined_definition(p.get("def"),
                                          map_sections.skus(md, few) if few else None,
                                          definition, op)
    base = p["label"].split(", then ")[0]
    n_steps = p.get("steps", 1) + 1
    last = f"{changed:,} {'added' if op == 'add' else 'taken away'} {label}"
    map_sections.pick(f"{base}, then {last}" if n_steps == 2 else
                      f"{base}, then {n_steps - 1} more steps (last: {last})", after, d)
    ss["pick"]["steps"] = n_steps


def indices_of(b, d: dict, xy: np.ndarray, visible: np.ndarray, store) -> np.ndarray | None:
    """The products one selection's definition (from the URL) finds; None for an unknown
    kind (a link from a newer version: ignored). KeyError, TypeError or ValueError when the
    definition is malformed."""
    md = b.metadata
    kind = d["kind"]
    if kind == "skus":
        want = {str(s) for s in d["skus"]}
        return np.flatnonzero(md["sku"].astype(str).isin(want))
    if kind in ("box", "lasso"):
        ev = mapcomponent.MapEvent(0, kind, x=[float(v) for v in d["x"]],
                                   y=[float(v) for v in d["y"]])
        return mapcomponent.event_selection(ev, xy, visible)
    if kind in ("box3d", "lasso3d"):
        from explorer.app.map3d import screen_selection   # map3d imports this module
        return screen_selection(b, d, visible)
    if kind == "tag" and store is not None:
        return np.flatnonzero(md["sku"].astype(str).isin(set(store.skus_with(d["tag"]))))
    if kind == "search":
        hit = cache_map.search_text(b).str.contains(str(d["q"]).lower(), regex=False)
        return np.flatnonzero(hit.to_numpy())
    return None


def restore(b, xy: np.ndarray, visible: np.ndarray, store) -> None:
    """A reload or a shared link: rebuild the selection from its definition in the URL (once:
    not when the session has a selection already)."""
    raw = st.query_params.get("sel")
    if "pick" in ss or not raw:
        return
    try:
        d = json.loads(raw)
        if d["kind"] == "steps":          # grown (Shift) or cut (Alt) in several steps
            idx = map_selection.replay_steps(
                d, lambda step: indices_of(b, step, xy, visible, store), len(b))
        else:
            idx = indices_of(b, d, xy, visible, store)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        st.warning(f"The selection in the link could not be read ({esc(e)}); nothing is "
                   f"selected.")
        return
    if idx is not None:
        map_sections.pick("from the link", idx, d)


def sync(md: pd.DataFrame) -> None:
    """Write the selection's definition into the URL (`sel`), or its SKUs when it has none
    and holds at most map_selection.MAX_SKUS products; drop `sel` when nothing is selected."""
    qp = st.query_params
    p = ss.get("pick")
    d = p.get("def") if p else None
    if p and not d and 0 < len(p["indices"]) <= map_selection.MAX_SKUS:
        d = {"kind": "skus", "skus": map_sections.skus(md, p["indices"])}
    if d:
        text = json.dumps(d, separators=(",", ":"))
        if qp.get("sel") != text:
            qp["sel"] = text
    elif "sel" in qp:
        del qp["sel"]
