// KickSpace catalogue map: a Streamlit component (API v1, spoken by hand: no build step) on
// regl-scatterplot (WebGL), vendored in ./vendor.
//
// Python (explorer/app/mapcomponent.py) sends the points as one compact binary buffer (fetched
// from a URL, or inline bytes): [int32 catalogue ids, when a filter is on] [uint16 x] [uint16 y]
// [uint8 colour code], positions quantised over the map's square extent. Pictures and hover
// texts come lazily, one image shard (a WebP atlas of up to 1,024 products) at a time, when a
// hover or a zoom needs them. Every catalogue string is put in the page with textContent, never
// as HTML.
//
// The component's value (sent back to Python) is
//   {seq, event: {seq, kind: "click", index} | {seq, kind: "box" | "lasso", x: [...], y: [...]}
//                | {seq, kind: "clear"} | null, view: [x, y, distance], need: [shard ids]}
// in the data's own coordinates; Python turns boxes and lassos into catalogue indices over
// every filtered product.
import createScatterplot from "./vendor/regl-scatterplot.esm.js";
import { createThumbs } from "./thumbs.js";
import { connect, selectOp, u8, withOp } from "./protocol.js";

const $ = (id) => document.getElementById(id);
const wrap = $("wrap"), glCanvas = $("gl"), under = $("under"), over = $("over"), tip = $("tip");
const tipImg = $("tipimg"), tipText = $("tiptext"), statusEl = $("status");
const THUMBS_BELOW = 300;       // draw pictures instead of points when fewer are in view

let args = {};
let plot = null;
let dataKey = null, selKey = null, matchKey = null, viewKey = null;
let n = 0, ids = null, inverse = null, xs = null, ys = null;
let centre = [0, 0], half = 1;
let matches = new Int32Array(0);
let lastView = null, lassoing = false, lassoKind = "lasso";
let viewTimer = null, overlayQueued = false;
let pictures = [];     // zoomed in: the pictures drawn, [point, x, y, size] in CSS px of #wrap
let shown = null;  // products drawn (-1: the draw failed), told to Python once: reportShown

// ------------------------------------------------------------------ Streamlit protocol
// (protocol.js: the render queue, the value sent back with its event seqs, errors)
const { send, setHeight } = connect({
  render, statusEl, what: "The map",
  extra: () => ({ view: lastView, need: thumbs.needList(), shown }),
  onError: () => reportShown(-1),
});
// The page holds back its panels on a first visit until the map is on screen (or has
// failed): say so once, after the first draw, when it asks (args.report_shown).
function reportShown(count) {
  if (shown !== null || !args.report_shown) return;
  shown = count;
  send(null);
}

// ------------------------------------------------------------------ coordinates
const toData = ([gx, gy]) => [centre[0] + gx * half, centre[1] + gy * half];
function toScreen(gx, gy) {          // GL (normalised) coordinates -> CSS pixels in #wrap
  const v = plot.get("cameraView");
  const w = wrap.clientWidth, h = wrap.clientHeight;
  const x = (v[0] * gx + v[4] * gy + v[12]) / (w / h);
  const y = v[1] * gx + v[5] * gy + v[13];
  return [(w * (x + 1)) / 2, h * (0.5 - y / 2)];
}
const dataToGl = (x, y) => [(x - centre[0]) / half, (y - centre[1]) / half];
function fromScreen(sx, sy) {        // CSS pixels in #wrap -> GL coordinates (toScreen's inverse)
  const v = plot.get("cameraView");
  const w = wrap.clientWidth, h = wrap.clientHeight;
  const x = ((2 * sx) / w - 1) * (w / h) - v[12], y = 1 - (2 * sy) / h - v[13];
  const det = v[0] * v[5] - v[4] * v[1];
  return [(x * v[5] - v[4] * y) / det, (v[0] * y - v[1] * x) / det];
}

// ------------------------------------------------------------------ data
function int32s(v) {
  const b = u8(v);
  return new Int32Array(b.slice().buffer, 0, b.length >> 2);
}
async function loadPoints(a) {
  let buf;
  if (a.points_url) {
    const r = await fetch(a.points_url);
    if (!r.ok) throw new Error(`points: HTTP ${r.status}`);
    buf = new Uint8Array(await r.arrayBuffer());
  } else {
    buf = u8(a.points).slice();
  }
  n = a.n;
  const need_ = n * (a.has_ids ? 9 : 5);
  if (buf.length < need_) throw new Error(`points: ${buf.length} bytes for ${n} points`);
  let off = 0;
  ids = null;
  if (a.has_ids) { ids = new Int32Array(buf.buffer, buf.byteOffset, n); off = 4 * n; }
  const qx = new Uint16Array(buf.buffer, buf.byteOffset + off, n);
  const qy = new Uint16Array(buf.buffer, buf.byteOffset + off + 2 * n, n);
  const col = new Uint8Array(buf.buffer, buf.byteOffset + off + 4 * n, n);
  xs = new Float32Array(n); ys = new Float32Array(n);
  const valueA = new Float32Array(n);       // colour code: a category (numeric maps: a bin)
  for (let i = 0; i < n; i++) {
    xs[i] = (qx[i] / 65535) * 2 - 1;
    ys[i] = (qy[i] / 65535) * 2 - 1;
    valueA[i] = col[i];
  }
  inverse = null;
  if (ids) {
    inverse = new Int32Array(a.n_total).fill(-1);
    for (let i = 0; i < n; i++) inverse[ids[i]] = i;
  }
  return { x: xs, y: ys, valueA };
}
const catIndex = (p) => (ids ? ids[p] : p);
const pointOf = (c) => (inverse ? inverse[c] : (c >= 0 && c < n ? c : -1));
function pointsOf(catalogueIdx) {
  const out = [];
  for (const c of catalogueIdx) { const p = pointOf(c); if (p >= 0) out.push(p); }
  return out;
}

// ------------------------------------------------------------------ pictures and texts
const thumbs = createThumbs({ getArgs: () => args, ask: () => send(null),
                              loaded: () => queueOverlay(), wrap, tip, tipImg, tipText });
const { shards, shardOf, want } = thumbs, drawThumb = thumbs.draw;

// ------------------------------------------------------------------ hover
let hovered = -1;
const refreshTip = () => thumbs.refresh();
const placeTip = () => thumbs.place();

// ------------------------------------------------------------------ 2-D canvases
// #under (density contours) lies beneath the WebGL points, whose canvas is transparent where
// nothing is drawn (#wrap's white shows through); #over (pictures, rings, paths, stars) lies
// above them. Both follow every view change, in CSS px of #wrap.
function queueOverlay() {
  if (overlayQueued) return;
  overlayQueued = true;
  requestAnimationFrame(() => { overlayQueued = false; drawOverlay(); });
}
function canvas2d(c, w, h, dpr) {       // sized to #wrap, cleared, in CSS px
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
  }
  const ctx = c.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}
function drawOverlay() {
  if (!plot) return;
  const dpr = window.devicePixelRatio || 1;
  const w = wrap.clientWidth, h = wrap.clientHeight;
  // density contours: under the points (a dense point hides the line), so no halo is needed
  const uctx = canvas2d(under, w, h, dpr);
  for (const o of args.overlays || []) if (o.kind === "contour") contour(uctx, o);
  const ctx = canvas2d(over, w, h, dpr);
  let thumbs = 0;
  pictures = [];
  // zoomed in: product pictures replace the points
  if (args.thumbs) {
    // the share of the map in view (about distance^2) says when it is worth asking for them
    const d = plot.get("cameraDistance"), dist = d && d.length ? d[0] : +d;
    const inView = n * dist * dist < THUMBS_BELOW * 6 ? plot.get("pointsInView") : [];
    if (inView.length && inView.length <= THUMBS_BELOW) {
      const size = Math.max(28, Math.min(72, Math.sqrt((w * h) / inView.length) * 0.8));
      for (const p of inView) {
        const c = catIndex(p);
        const [sx, sy] = toScreen(xs[p], ys[p]);
        if (drawThumb(ctx, c, sx - size / 2, sy - size / 2, size)) {
          thumbs += 1;
          pictures.push([p, sx - size / 2, sy - size / 2, size]);
        }
        else want(shardOf(c));
      }
    }
  }
  document.body.dataset.thumbs = String(thumbs);
  // search matches: rings
  if (matches.length) {
    ctx.strokeStyle = "#111"; ctx.lineWidth = 1.5;
    const lim = Math.min(matches.length, 5000);
    for (let i = 0; i < lim; i++) {
      const p = pointOf(matches[i]);
      if (p < 0) continue;
      const [sx, sy] = toScreen(xs[p], ys[p]);
      if (sx < -8 || sy < -8 || sx > w + 8 || sy > h + 8) continue;
      ctx.beginPath(); ctx.arc(sx, sy, 6, 0, 2 * Math.PI); ctx.stroke();
    }
  }
  // overlays (an uploaded photo's star, a path): always on top of points and pictures
  document.body.dataset.overlays = (args.overlays || []).map((o) => o.kind).join(" ");
  for (const o of args.overlays || []) {
    if (o.kind === "contour") continue;
    const pts = o.x.map((x, i) => toScreen(...dataToGl(x, o.y[i])));
    ctx.strokeStyle = o.color || "#e4572e"; ctx.fillStyle = o.color || "#e4572e";
    if (o.kind === "path" && pts.length > 1) {
      ctx.beginPath();
      pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.lineWidth = 5; ctx.strokeStyle = "#fff"; ctx.stroke();     // a halo: seen on points
      ctx.lineWidth = 2.5; ctx.strokeStyle = o.color || "#e4572e"; ctx.stroke();
    }
    pts.forEach(([x, y], i) => {
      if (o.kind === "star") star(ctx, x, y, 11); else { ctx.beginPath(); ctx.arc(x, y, 4, 0, 7); ctx.fill(); }
      const label = o.labels && o.labels[i];
      if (label) {             // right of the mark, or left of it where the map ends
        ctx.font = "12px sans-serif"; ctx.lineWidth = 3; ctx.strokeStyle = "#fff";
        const t = String(label), tw = ctx.measureText(t).width;
        const lx = x + 10 + tw > w && x - 10 - tw >= 0 ? x - 10 - tw : x + 10;
        ctx.strokeText(t, lx, y - 8); ctx.fillText(t, lx, y - 8);
        ctx.strokeStyle = o.color || "#e4572e";
      }
    });
  }
}
function contour(ctx, o) {       // closed density contours as segments [x0, y0, x1, y1, ...]
  const s = o.segments || [];
  ctx.save();
  ctx.beginPath();
  for (let i = 0; i + 3 < s.length; i += 4) {
    const [ax, ay] = toScreen(...dataToGl(s[i], s[i + 1]));
    const [bx, by] = toScreen(...dataToGl(s[i + 2], s[i + 3]));
    ctx.moveTo(ax, ay); ctx.lineTo(bx, by);
  }
  ctx.lineCap = "round"; ctx.lineJoin = "round";
  ctx.globalAlpha = o.alpha || 0.9; ctx.strokeStyle = o.color || "#31333f"; ctx.lineWidth = 1.2;
  ctx.stroke();
  ctx.restore();
}
function star(ctx, x, y, r) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = (Math.PI / 5) * i - Math.PI / 2, rr = i % 2 ? r * 0.45 : r;
    ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath(); ctx.fill();
  ctx.lineWidth = 1.2; ctx.strokeStyle = "#fff"; ctx.stroke();
}

// ------------------------------------------------------------------ legend
function legend(a) {
  $("legendtitle").textContent = a.legend_title || "Legend";
  const ul = $("legenditems");
  ul.replaceChildren();
  if (a.colour_kind === "numeric" && a.palette && a.palette.length) {
    const li = document.createElement("li");
    const lo = document.createElement("span"), hi = document.createElement("span");
    lo.textContent = a.range ? String(a.range[0]) : "";
    hi.textContent = a.range ? String(a.range[1]) : "";
    const ramp = document.createElement("span");
    ramp.className = "ramp";
    ramp.style.background = `linear-gradient(90deg, ${a.palette.join(",")})`;
    li.append(lo, ramp, hi);
    ul.append(li);
  }
  for (const [label, colour] of a.legend || []) {
    const li = document.createElement("li");
    const dot = document.createElement("i");
    dot.style.background = colour;
    const t = document.createElement("span");
    t.textContent = label;
    li.title = label;
    li.append(dot, t);
    ul.append(li);
  }
  $("legend").hidden = !(a.legend && a.legend.length) && a.colour_kind !== "numeric";
}

// ------------------------------------------------------------------ render
function setMode(mode) {
  for (const b of document.querySelectorAll("#bar button[data-mode]"))
    b.classList.toggle("on", b.dataset.mode === mode);
  if (!plot) return;
  if (mode === "panZoom") plot.set({ mouseMode: "panZoom" });
  else { lassoKind = mode === "rectangle" ? "box" : "lasso"; plot.set({ mouseMode: "lasso", lassoType: mode }); }
  plot.get("camera").config({ isPan: mode === "panZoom" });
  document.body.dataset.mode = mode;
}
for (const b of document.querySelectorAll("#bar button[data-mode]"))
  b.addEventListener("click", () => setMode(b.dataset.mode));
// the whole map: the square [-1, 1]^2 fits the canvas's shorter side (a phone is taller than wide)
const fitDistance = () => Math.max(1, wrap.clientHeight / Math.max(1, wrap.clientWidth));
$("reset").addEventListener("click", () => plot && plot.set({ cameraTarget: [0, 0], cameraDistance: fitDistance() }));

function createPlot(a) {
  // the canvas fills #wrap's inside (its client box, borders off): the plot's size must be
  // that box, or the lasso, box and overlays are off from the drawn points by the border
  plot = createScatterplot({
    canvas: glCanvas, width: Math.max(50, wrap.clientWidth), height: Math.max(50, wrap.clientHeight),
    pointSize: a.point_size, opacity: a.n > 200000 ? 0.5 : 0.8,
    pointColorActive: "#d62728", pointOutlineWidth: 1, pointSizeSelected: 1,
    opacityInactiveScale: 0.25,    // a selection stands out: the other points fade
    pointColorHover: "#111111", backgroundColor: "#ffffff", lassoColor: "#31333f",
    lassoMinDelay: 10, deselectOnDblClick: true, performanceMode: a.n > 500000,
    // Shift adds to the selection, Alt takes away (explorer.render.map_selection.combine
    // decides; regl-scatterplot's own merge only shows it at once). Lasso has its mode button.
    actionKeyMap: { merge: "shift", remove: "alt" },
  });
  // The camera pans by the mouse's move since the camera's last frame. A busy page may draw
  // no frame between a move and the press after it (the Box button clicked, then a drag at
  // once): that first frame then panned the map by the whole way from the button to the press,
  // and the box landed elsewhere than it was drawn. So the frame after each press does not pan
  // (it brings the camera's mouse up to date), and in Box and Lasso a drag never pans.
  const cam = plot.get("camera");
  window.addEventListener("mousedown", () => {
    cam.config({ isPan: false });
    requestAnimationFrame(() => requestAnimationFrame(() =>
      cam.config({ isPan: plot.get("mouseMode") === "panZoom" })));
  }, true);
  plot.subscribe("pointOver", (p) => { hovered = p; thumbs.show(catIndex(p)); placeTip(); });
  plot.subscribe("pointOut", () => { hovered = -1; thumbs.show(-1); });
  // A box is the press and the release, as the hand made them. regl-scatterplot's own box
  // grows by throttled mouse moves, which lag behind on a busy main thread (a page laying
  // itself out, a million points): its last corner could stop short of the release.
  let boxFrom = null, boxTo = null, upOp, clickOp, selAtDown = [];
  const onCanvas = (e) => { const r = glCanvas.getBoundingClientRect();
                            return [e.clientX - r.left, e.clientY - r.top]; };
  glCanvas.addEventListener("mousedown", (e) => {
    boxFrom = onCanvas(e); boxTo = null;
    clickOp = undefined; selAtDown = plot.get("selectedPoints");
  }, true);
  window.addEventListener("mouseup", (e) => {
    upOp = selectOp(e);
    if (boxFrom) boxTo = onCanvas(e);
  }, true);
  window.addEventListener("click", (e) => { clickOp = selectOp(e); }, true);
  plot.subscribe("lassoStart", () => { lassoing = true; });
  plot.subscribe("lassoEnd", ({ coordinates }) => {
    lassoing = false;
    let pts = coordinates.map(toData);
    if (lassoKind === "box" && boxFrom && boxTo) {
      const [a, b] = [fromScreen(...boxFrom), fromScreen(...boxTo)].map(toData);
      pts = [[a[0], a[1]], [b[0], a[1]], [b[0], b[1]], [a[0], b[1]]];
    }
    boxFrom = boxTo = null;
    send(withOp({ kind: lassoKind, x: pts.map((p) => +p[0].toPrecision(6)),
                  y: pts.map((p) => +p[1].toPrecision(6)) }, upOp));
  });
  plot.subscribe("select", ({ points }) => {
    statusEl.textContent = `${points.length.toLocaleString("en")} selected`;
    if (lassoing) return;
    if (clickOp) {            // Shift / Alt click: the one point it added or took away
      const was = new Set(selAtDown), now = new Set(points);
      const hit = clickOp === "add" ? points.find((q) => !was.has(q))
                                    : selAtDown.find((q) => !now.has(q));
      if (hit !== undefined) send({ kind: "click", index: catIndex(hit), op: clickOp });
    } else if (points.length === 1) send({ kind: "click", index: catIndex(points[0]) });
  });
  plot.subscribe("deselect", () => { statusEl.textContent = ""; send({ kind: "clear" }); });
  // a click off every point: on a product's picture (zoomed in) it selects that product, on
  // empty space it clears the selection (regl-scatterplot clears only on a double click or
  // Escape). Its own click handler, added before this one, has already picked the point under
  // the mouse, if any: the selection unchanged and nothing hovered is a miss
  let press = null;
  glCanvas.addEventListener("mousedown", (e) => {
    press = { x: e.clientX, y: e.clientY, sel: plot.get("selectedPoints") };
  });
  glCanvas.addEventListener("click", (e) => {
    const p = press;
    press = null;
    if (!p || Math.hypot(e.clientX - p.x, e.clientY - p.y) >= 3 || hovered >= 0) return;
    const now = plot.get("selectedPoints");
    if (now.length !== p.sel.length || now.some((v, i) => v !== p.sel[i])) return;
    const r = glCanvas.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
    const pic = pictures.findLast(([, x, y, size]) => mx >= x && mx <= x + size &&
                                                       my >= y && my <= y + size);
    const op = selectOp(e);
    if (pic && op) {                            // Shift / Alt: add it or take it away
      plot.select([pic[0]], { merge: op === "add", remove: op === "remove", preventEvent: true });
      send({ kind: "click", index: catIndex(pic[0]), op });
      return;
    }
    if (pic) { plot.select([pic[0]]); return; }  // its "select" event sends the click
    if (op) return;                             // Shift / Alt on empty space: nothing to change
    if (now.length) plot.deselect();            // its "deselect" event sends the clear
    else if (u8(args.selected).length) { statusEl.textContent = ""; send({ kind: "clear" }); }
  });
  plot.subscribe("view", ({ view }) => {
    queueOverlay();
    clearTimeout(viewTimer);
    viewTimer = setTimeout(() => {
      const t = plot.get("cameraTarget"), d = plot.get("cameraDistance");
      const dist = Array.isArray(d) || d instanceof Float32Array ? d[0] : d;
      const [x, y] = toData([t[0], t[1]]);
      lastView = [+x.toPrecision(6), +y.toPrecision(6), +(+dist).toPrecision(4)];
      send(null);
    }, 700);
  });
  new ResizeObserver(() => {
    if (!plot || wrap.clientWidth <= 0) return;
    wrap.style.height = mapHeight(args) + "px";
    plot.set({ width: wrap.clientWidth, height: wrap.clientHeight });
    queueOverlay();
  }).observe(wrap);
}

function mapHeight(a) {        // a phone gets a map about as tall as it is wide
  return Math.round(Math.min(a.height, Math.max(320, wrap.getBoundingClientRect().width * 1.05)));
}

async function render(a) {
  args = a;
  wrap.style.height = mapHeight(a) + "px";
  if (!plot) createPlot(a);
  setHeight();
  if (a.data_key !== dataKey) {
    const t0 = performance.now();
    centre = a.centre; half = a.half;
    statusEl.textContent = `drawing ${a.n.toLocaleString("en")} products …`;
    const pts = await loadPoints(a);
    plot.set({
      pointColor: a.palette && a.palette.length ? a.palette : "#0072B2",
      colorBy: a.palette && a.palette.length > 1 ? "valueA" : null,
      pointSize: a.point_size, opacity: a.n > 200000 ? 0.5 : 0.8,
    });
    await plot.draw(pts, { zDataType: "categorical" });
    if (dataKey === null && !a.view) plot.set({ cameraTarget: [0, 0], cameraDistance: fitDistance() });
    dataKey = a.data_key; selKey = null; matchKey = null;
    legend(a);
    statusEl.textContent = `${a.n.toLocaleString("en")} products`;
    document.body.dataset.drawn = String(a.n);
    document.body.dataset.drawMs = String(Math.round(performance.now() - t0));
    // when (ms since the epoch), for bench_map: a harness polling for data-state lags the
    // draw by up to seconds while the page's main thread is busy
    document.body.dataset.drawnAt = String(Math.round(performance.timeOrigin + performance.now()));
    document.body.dataset.state = "drawn";
    reportShown(a.n);
  }
  if (a.view && a.view_key !== viewKey) {
    viewKey = a.view_key;
    const [x, y, d] = a.view;
    plot.set({ cameraTarget: dataToGl(x, y), cameraDistance: d });
    lastView = a.view;
  }
  if (a.sel_key !== selKey) {
    selKey = a.sel_key;
    const sel = pointsOf(int32s(a.selected));
    if (sel.length) plot.select(sel, { preventEvent: true });
    else plot.deselect({ preventEvent: true });
    statusEl.textContent = sel.length ? `${sel.length.toLocaleString("en")} selected` :
      `${n.toLocaleString("en")} products`;
  }
  if (a.match_key !== matchKey) { matchKey = a.match_key; matches = int32s(a.matches); }
  thumbs.adopt(a.shards);
  queueOverlay();
  setHeight();
}

// for tests and benchmarks (read-only use): the plot and the state Python last sent
window.kickspaceMap = {
  get plot() { return plot; }, get args() { return args; }, toScreen, toData, pointOf,
  screenOf: (p) => toScreen(xs[p], ys[p]), shards,
  dataScreen: (x, y) => toScreen(...dataToGl(x, y)),    // map coordinates -> CSS px
  get hovered() { return hovered >= 0 ? catIndex(hovered) : -1; }, refreshTip,
  get pictures() { return pictures.map(([p, ...rest]) => [catIndex(p), ...rest]); },
};
