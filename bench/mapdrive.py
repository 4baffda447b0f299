"""Drive the catalogue map component (explorer/app/map_frontend) in a Playwright page: find its
frame, and drag / click / wheel inside it.

Inputs are dispatched as DOM mouse events inside the component's frame, at frame
coordinates: with Debian's headless Chromium, Playwright's page.mouse reaches a Streamlit
component's iframe with page coordinates as clientX/clientY (the frame's offset is not taken
off), so a real drag lands in the wrong place. The events go through regl-scatterplot's own
handlers (mousedown on the canvas, mousemove / mouseup on the window, wheel on the canvas).
"""
from __future__ import annotations

import time

from bench.appserver import wait_idle

FRAME = "iframe[title*='kickspace_map']"


def map_frame(page, timeout: float = 120.0):
    """The component's frame, once it has drawn its points."""
    page.wait_for_selector(FRAME, timeout=timeout * 1000)
    frame = page.locator(FRAME).first.element_handle().content_frame()
    frame.wait_for_selector("body[data-state='drawn']", timeout=timeout * 1000)
    return frame


def page_complete(page, timeout: float = 180.0) -> None:
    """Wait until the catalogue map page has drawn its panels too: on a browser's first
    visit they follow the map's first draw (one more script run), and the scroll bar they
    bring narrows the map by a few pixels, moving every point on screen."""
    page.get_by_role("heading", name="Tags").first.wait_for(timeout=timeout * 1000)
    wait_idle(page, timeout)


def _fire(frame, kind: str, x: float, y: float, buttons: int,
          target: str, keys: str = "") -> tuple[float, float]:
    """Dispatch one mouse event at (x, y) frame px from the canvas's corner, with the
    modifier keys named in keys ("shift", "alt") held; returns where the canvas saw it (a
    MouseEvent's clientX / clientY are whole pixels)."""
    return tuple(frame.evaluate("""([kind, x, y, buttons, target, keys]) => {
        const c = document.getElementById('gl'), r = c.getBoundingClientRect();
        const init = {clientX: r.left + x, clientY: r.top + y, buttons, button: 0,
                      shiftKey: keys.includes('shift'), altKey: keys.includes('alt'),
                      bubbles: true, cancelable: true, view: window};
        const e = new MouseEvent(kind, init);
        (target === 'canvas' ? c : window).dispatchEvent(e);
        return [e.clientX - r.left, e.clientY - r.top];
    }""", [kind, x, y, buttons, target, keys]))


def size(frame) -> tuple[float, float]:
    return tuple(frame.evaluate(
        "() => { const r = document.getElementById('gl').getBoundingClientRect();"
        " return [r.width, r.height]; }"))


def drag(frame, x0: float, y0: float, x1: float, y1: float, steps: int = 12,
         pause: float = 0.03, lasso: bool = False, keys: str = "") -> None:
    """Press at (x0, y0), move to (x1, y1), release (frame px): straight for a box, along
    three edges of the rectangle for a lasso (which closes itself); keys ("shift", "alt")
    held throughout."""
    _fire(frame, "mousemove", x0, y0, 0, "canvas", keys)
    _fire(frame, "mousedown", x0, y0, 1, "canvas", keys)
    # regl-scatterplot starts a box or lasso at the first move after the press, not at the
    # press: a hand's first move is a pixel away, so move on the spot first (else the box
    # would start a sixth of the way along)
    time.sleep(pause)
    _fire(frame, "mousemove", x0, y0, 1, "window", keys)
    path = [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
            for i in range(1, steps + 1)]
    if lasso:
        path = [(x0 + (x1 - x0) * i / steps, y0) for i in range(1, steps + 1)] + \
               [(x1, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)] + \
               [(x1 - (x1 - x0) * i / steps, y1) for i in range(1, steps + 1)]
    for x, y in path:
        time.sleep(pause)
        _fire(frame, "mousemove", x, y, 1, "window", keys)
    time.sleep(pause)
    _fire(frame, "mouseup", path[-1][0], path[-1][1], 0, "window", keys)


def lasso(frame, vertices, step: float = 8.0, pause: float = 0.03) -> list[tuple[float, float]]:
    """Draw a lasso through `vertices` [(x, y), ...] (frame px; the Lasso tool must be on):
    press at the first, move along each edge in steps of about `step` px (more than the
    lasso's 3 px minimum), back to the first, release. Returns the polygon the canvas saw:
    the vertices where the events landed (whole client pixels)."""
    pts = [tuple(map(float, v)) for v in vertices]
    seen = [_fire(frame, "mousemove", *pts[0], 0, "canvas")]
    _fire(frame, "mousedown", *pts[0], 1, "canvas")
    for j, ((ax, ay), (bx, by)) in enumerate(zip(pts, pts[1:] + pts[:1])):
        k = max(1, int(((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5 // step))
        for i in range(1, k + 1):
            corner = i == k
            # the lasso keeps at most one move per 10 ms (throttled, and a slow frame
            # delays its timers): linger at each corner so that no corner is dropped
            time.sleep(pause * (5 if corner else 1))
            got = _fire(frame, "mousemove", ax + (bx - ax) * i / k, ay + (by - ay) * i / k,
                        1, "window")
            if corner:
                time.sleep(pause * 5)
                if j < len(pts) - 1:
                    seen.append(got)
    time.sleep(pause)
    _fire(frame, "mouseup", *pts[0], 0, "window")
    return seen


def click(frame, x: float, y: float, keys: str = "") -> None:
    """A click at (x, y) frame px, keys ("shift", "alt") held."""
    _fire(frame, "mousemove", x, y, 0, "canvas", keys)
    time.sleep(0.05)
    _fire(frame, "mousemove", x, y, 0, "window", keys)
    _fire(frame, "mousedown", x, y, 1, "canvas", keys)
    _fire(frame, "mouseup", x, y, 0, "window", keys)
    _fire(frame, "click", x, y, 0, "canvas", keys)


def hover(frame, x: float, y: float) -> None:
    _fire(frame, "mousemove", x, y, 0, "canvas")
    time.sleep(0.05)
    _fire(frame, "mousemove", x, y, 0, "window")


def mode(frame, name: str, timeout: float = 30.0) -> None:
    """"panZoom", "rectangle" (Box) or "freeform" (Lasso): the toolbar's buttons. Returns
    once the plot has taken the mode: a drag dispatched right after the click could otherwise
    still pan (or lasso), which looked like a box cut short."""
    frame.locator(f"button[data-mode='{name}']").click()
    want = "panZoom" if name == "panZoom" else "lasso"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = frame.evaluate("() => { const p = kickspaceMap.plot;"
                             " return [p.get('mouseMode'), p.get('lassoType')]; }")
        if got[0] == want and (name == "panZoom" or got[1] == name):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the map did not take the {name} mode: {got}")


def point_px(frame, catalogue_index: int) -> tuple[float, float] | None:
    """Where a product is drawn (frame px), or None when it is not drawn."""
    return frame.evaluate("""(c) => {
        const m = kickspaceMap, a = m.args, p = m.plot;
        const i = m.pointOf(c); if (i < 0) return null;
        return m.screenOf(i);
    }""", catalogue_index)


def wheel(frame, x: float, y: float, delta: float = -300.0, times: int = 1) -> None:
    """Wheel at (x, y) frame px; negative delta zooms in."""
    for _ in range(times):
        frame.evaluate("""([x, y, d]) => {
            const c = document.getElementById('gl'), r = c.getBoundingClientRect();
            c.dispatchEvent(new WheelEvent('wheel', {deltaY: d, clientX: r.left + x,
                clientY: r.top + y, bubbles: true, cancelable: true}));
        }""", [x, y, delta])
        time.sleep(0.05)


# ---------------------------------------------------------------------------- the 3-D view
FRAME_3D = "iframe[title*='kickspace_map3d']"


def map3d_frame(page, timeout: float = 180.0):
    """The 3-D view's frame (explorer/app/map_frontend/map3d.js), once it has drawn."""
    page.wait_for_selector(FRAME_3D, timeout=timeout * 1000)
    frame = page.locator(FRAME_3D).first.element_handle().content_frame()
    frame.wait_for_selector("body[data-state='drawn']", timeout=timeout * 1000)
    return frame


def _fire3d(frame, kind: str, x: float, y: float, buttons: int, keys: str = "") -> None:
    """One mouse event at (x, y) px of the 3-D view's #wrap, on whatever is drawn there
    (plotly's scene canvas picks and turns on its own mouse listeners), keys ("shift",
    "alt") held."""
    frame.evaluate("""([kind, x, y, buttons, keys]) => {
        const r = document.getElementById('wrap').getBoundingClientRect();
        const el = document.elementFromPoint(r.left + x, r.top + y);
        el.dispatchEvent(new MouseEvent(kind, {clientX: r.left + x, clientY: r.top + y,
            buttons, button: 0, shiftKey: keys.includes('shift'), altKey: keys.includes('alt'),
            bubbles: true, cancelable: true, view: window}));
    }""", [kind, x, y, buttons, keys])


def hover3d(frame, x: float, y: float, settle: float = 0.6) -> int:
    """Move the mouse to (x, y) in the 3-D view; the product hovered there (-1: none).
    plotly picks in its next frame: wait `settle` s."""
    _fire3d(frame, "mousemove", x, y, 0)
    time.sleep(settle)
    return int(frame.evaluate("() => kickspace3d.hovered"))


def click3d(frame, x: float, y: float) -> None:
    """Press and release at (x, y) without moving: plotly's scene reports a click on the
    product there (a press that moves turns the scene instead)."""
    _fire3d(frame, "mousemove", x, y, 0)
    time.sleep(0.3)
    _fire3d(frame, "mousedown", x, y, 1)
    time.sleep(0.3)                       # the scene reads the pressed button in a frame
    _fire3d(frame, "mouseup", x, y, 0)


def drag3d(frame, x0: float, y0: float, x1: float, y1: float, steps: int = 8,
           keys: str = "") -> None:
    """Press at (x0, y0), move to (x1, y1), release (px of #wrap): with Box on, a box; keys
    ("shift", "alt") held throughout."""
    _fire3d(frame, "mousemove", x0, y0, 0, keys)
    _fire3d(frame, "mousedown", x0, y0, 1, keys)
    for i in range(1, steps + 1):
        time.sleep(0.03)
        _fire3d(frame, "mousemove", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps, 1,
                keys)
    _fire3d(frame, "mouseup", x1, y1, 0, keys)


def lasso3d(frame, vertices, step: float = 8.0) -> None:
    """Press at the first of `vertices` [(x, y), ...] (px of #wrap), move through the rest
    `step` px at a time and back to the first, release: with Lasso on, a lasso."""
    pts = [tuple(map(float, v)) for v in vertices]
    _fire3d(frame, "mousemove", *pts[0], 0)
    _fire3d(frame, "mousedown", *pts[0], 1)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
        n = max(1, int(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 // step))
        for i in range(1, n + 1):
            _fire3d(frame, "mousemove", x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, 1)
        time.sleep(0.02)
    _fire3d(frame, "mouseup", *pts[0], 0)


def point3d_px(frame, catalogue_index: int) -> tuple[float, float] | None:
    """Where the scene's camera draws a product (px of #wrap), or None when it is not drawn."""
    got = frame.evaluate("(c) => kickspace3d.screenOf(c)", catalogue_index)
    return tuple(got) if got else None


def isolated3d(frame, every: int = 97, take: int = 8) -> list[tuple[int, float, float]]:
    """Drawn products (catalogue index, x, y px) farthest on screen from the view's middle,
    of every `every`-th one drawn: where the cloud is thin, so a hover finds them."""
    pts = frame.evaluate("""(every) => { const ids = kickspace3d.traceIds()[0], out = [];
        for (let i = 0; i < ids.length; i += every)
            out.push([ids[i], ...kickspace3d.screenOf(ids[i])]);
        return out; }""", every)
    mid = sorted(p[1] for p in pts)[len(pts) // 2], sorted(p[2] for p in pts)[len(pts) // 2]
    pts.sort(key=lambda p: -((p[1] - mid[0]) ** 2 + (p[2] - mid[1]) ** 2))
    return [(int(c), x, y) for c, x, y in pts[:take]]
