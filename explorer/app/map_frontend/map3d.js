// KickSpace catalogue map, 3-D view: a Streamlit component (API v1, spoken by hand) drawing
// plotly.js's scatter3d (the vendored gl3d partial bundle, window.Plotly) in its own frame, so
// that a click on a product reaches Python (st.plotly_chart cannot report one for 3-D points;
// explorer/app/map3d.py says why) and hover shows the 2-D map's tooltip (thumbs.js).
//
// Python sends the drawn sample as one binary buffer fetched from a URL: [int32 catalogue ids]
// [uint16 x][uint16 y][uint16 z][uint8 colour code], positions quantised over the whole map's
// cube (`frame`: centre x, y, z, half side), split into traces by `traces` [{n, spec}] (plotly
// properties but the positions; a marker colour "@codes" takes the colour codes). The
// highlights (the selection, the search matches) come the same way as inline bytes, the
// overlays (photo, path) as plotly JSON. Catalogue strings reach the page as text only.
//
// The value sent back is the 2-D map's: {seq, event: {seq, kind: "click", index}
// | {seq, kind: "clear"} | {seq, kind: "box3d" | "lasso3d", clip, x, y} | null, view: null,
// need: [shard ids]}; a click, box or lasso made with Shift or Alt held carries op "add" or
// "remove" (protocol.js selectOp).
import { createThumbs } from "./thumbs.js";
import { connect, selectOp, u8, withOp } from "./protocol.js";

const Plotly = window.Plotly;
const $ = (id) => document.getElementById(id);
const wrap = $("wrap"), plotDiv = $("plot"), tip = $("tip"), statusEl = $("status");

let args = {};
let dataKey = null, hlKey = null, ovText = null;
let sample = { traces: [], ids: [] }, highlights = { traces: [], ids: [] }, overlays = [];
let traceIds = [];              // per drawn trace: its catalogue ids, or null (an overlay)
let data = [];
let hovered = -1, plotted = false;
let over = false, clicked = false;   // plotly has something under the mouse; reported a click

// ------------------------------------------------------------------ Streamlit protocol
// (protocol.js); event seqs start at random: a view switched away and back must not repeat
// an old seq
const { send, setHeight } = connect({
  render, statusEl, what: "The 3-D view",
  extra: () => ({ view: null, need: thumbs.needList() }),
});

// ------------------------------------------------------------------ data
function decode(bytes, specs, frame) {       // -> {traces, ids} (see the header)
  const n = specs.reduce((s, t) => s + t.n, 0);
  if (bytes.length < n * 11) throw new Error(`points: ${bytes.length} bytes for ${n} points`);
  const buf = bytes.slice().buffer;          // aligned copy
  const ids = new Int32Array(buf, 0, n);
  const q = [0, 1, 2].map((j) => new Uint16Array(buf, 4 * n + 2 * n * j, n));
  const codes = new Uint8Array(buf, 10 * n, n);
  const [cx, cy, cz, half] = frame;
  const xyz = [cx, cy, cz].map((c, j) => {
    const out = new Float32Array(n), qj = q[j];
    for (let i = 0; i < n; i++) out[i] = c + ((qj[i] / 65535) * 2 - 1) * half;
    return out;
  });
  const traces = [], tids = [];
  let o = 0;
  for (const { n: k, spec } of specs) {
    const marker = { ...spec.marker };
    if (marker.color === "@codes") marker.color = Float32Array.from(codes.subarray(o, o + k));
    traces.push({ ...spec, marker, x: xyz[0].subarray(o, o + k), y: xyz[1].subarray(o, o + k),
                  z: xyz[2].subarray(o, o + k), hoverinfo: "none" });
    tids.push(ids.subarray(o, o + k));
    o += k;
  }
  return { traces, ids: tids };
}

// ------------------------------------------------------------------ hover: the 2-D map's tooltip
const thumbs = createThumbs({ getArgs: () => args, ask: () => send(null), loaded: () => {},
                             wrap, tip, tipImg: $("tipimg"), tipText: $("tiptext") });
const placeTip = () => thumbs.place();
wrap.addEventListener("mouseleave", () => { hovered = -1; thumbs.show(-1); });
const productAt = (p) => {       // a plotly event point -> its catalogue index, or -1
  const ids = p ? traceIds[p.curveNumber] : null;
  return ids && p.pointNumber < ids.length ? ids[p.pointNumber] : -1;
};
function listen() {
  plotDiv.on("plotly_hover", (ev) => {
    over = true;
    hovered = productAt(ev && ev.points && ev.points[0]);
    thumbs.show(hovered);                   // an overlay keeps plotly's own label
    if (hovered >= 0) placeTip();
  });
  plotDiv.on("plotly_unhover", () => { over = false; hovered = -1; thumbs.show(-1); });
  plotDiv.on("plotly_click", (ev) => {
    clicked = true;
    const c = productAt(ev && ev.points && ev.points[0]);
    if (c < 0) return;
    statusEl.textContent = "selecting …";
    send(withOp({ kind: "click", index: c }, downOp));
  });
}

// a click on empty space clears the selection. plotly reports a click only on something it
// picks, so: a press and release on the scene that did not turn it (under 5 px apart, plotly's
// own click distance), with nothing picked under the mouse (a product or an overlay) before
// or during the press
let press = null, downOp;
plotDiv.addEventListener("mousedown", (e) => {
  clicked = false;
  downOp = selectOp(e);                        // Shift: add the clicked product, Alt: take it away
  press = e.button === 0 && e.target.tagName === "CANVAS" ? { x: e.clientX, y: e.clientY, over } : null;
}, true);
window.addEventListener("mouseup", (e) => {
  const p = press;
  press = null;
  if (!p || p.over || over || clicked || Math.hypot(e.clientX - p.x, e.clientY - p.y) >= 5) return;
  if (!args.n_selected || selectOp(e)) return; // nothing to clear; Shift / Alt: keep it
  statusEl.textContent = "clearing the selection …";
  send({ kind: "clear" });
}, true);

// ------------------------------------------------------------------ Box: a box selection
// plotly's 3-D scene has no box or lasso. In Box (or Lasso, below) mode a layer over the scene takes the drag
// and draws the box; the box (corners in normalised device coordinates) goes to Python with
// the camera (clipMatrix), and Python selects every filtered product the camera draws inside
// it, drawn in the sample or not (explorer.render.map3d.in_screen_box)
const boxLayer = $("boxlayer"), boxEl = $("box");
let boxFrom = null;
function setMode(mode) {
  for (const b of document.querySelectorAll("#bar button[data-mode]"))
    b.classList.toggle("on", b.dataset.mode === mode);
  document.body.dataset.mode = mode;
  hovered = -1;
  thumbs.show(-1);
}
for (const b of document.querySelectorAll("#bar button[data-mode]"))
  b.addEventListener("click", () => setMode(b.dataset.mode));
const inWrap = (e) => {
  const r = wrap.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
};
function drawBox([ax, ay], [bx, by]) {
  Object.assign(boxEl.style, { left: Math.min(ax, bx) + "px", top: Math.min(ay, by) + "px",
                               width: Math.abs(bx - ax) + "px", height: Math.abs(by - ay) + "px" });
  boxEl.hidden = false;
}
boxLayer.addEventListener("mousedown", (e) => {
  if (e.button !== 0) return;
  e.preventDefault();
  if (document.body.dataset.mode === "lasso") { lassoPts = [inWrap(e)]; drawLasso(); return; }
  boxFrom = inWrap(e);
  drawBox(boxFrom, boxFrom);
});
window.addEventListener("mousemove", (e) => {
  if (boxFrom) drawBox(boxFrom, inWrap(e));
  if (lassoPts) {
    const p = inWrap(e), q = lassoPts[lassoPts.length - 1];
    if (Math.hypot(p[0] - q[0], p[1] - q[1]) >= 2) { lassoPts.push(p); drawLasso(); }
  }
});
window.addEventListener("mouseup", (e) => {
  if (lassoPts) endLasso(inWrap(e), selectOp(e));
  if (!boxFrom) return;
  const a = boxFrom, b = inWrap(e);
  boxFrom = null;
  boxEl.hidden = true;
  if (Math.abs(b[0] - a[0]) < 4 || Math.abs(b[1] - a[1]) < 4 || !plotted) return;  // no box
  const [x0, y0] = toNdc(...a), [x1, y1] = toNdc(...b);
  const r6 = (v) => +v.toPrecision(6);
  statusEl.textContent = "selecting …";
  send(withOp({ kind: "box3d", clip: clipMatrix().map((v) => +v.toPrecision(8)),
                x: [r6(Math.min(x0, x1)), r6(Math.max(x0, x1))],
                y: [r6(Math.min(y0, y1)), r6(Math.max(y0, y1))] }, selectOp(e)));
});

// ------------------------------------------------------------------ Lasso: a free-hand selection
// the same layer in Lasso mode: the drag draws a free-hand outline (an SVG polygon, closing
// itself); its vertices, thinned to at most LASSO_MAX, go to Python in the box's normalised
// device coordinates with the camera, and Python selects every filtered product the camera
// draws inside it (explorer.render.map3d.in_screen_polygon, even-odd rule)
const lassoEl = $("lasso"), lassoPoly = lassoEl.querySelector("polygon"), LASSO_MAX = 120;
let lassoPts = null;
function drawLasso() {
  lassoPoly.setAttribute("points", lassoPts.map(([x, y]) => `${x},${y}`).join(" "));
  lassoEl.style.display = "block";
}
function endLasso(last, op) {
  const pts = lassoPts;
  lassoPts = null;
  lassoEl.style.display = "none";
  pts.push(last);
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  if (pts.length < 3 || Math.max(...xs) - Math.min(...xs) < 4 ||
      Math.max(...ys) - Math.min(...ys) < 4 || !plotted) return;          // no lasso
  const step = Math.ceil(pts.length / LASSO_MAX);
  const kept = pts.filter((_, i) => i % step === 0);
  const ndc = kept.map((p) => toNdc(...p)), r6 = (v) => +v.toPrecision(6);
  statusEl.textContent = "selecting …";
  send(withOp({ kind: "lasso3d", clip: clipMatrix().map((v) => +v.toPrecision(8)),
                x: ndc.map((p) => r6(p[0])), y: ndc.map((p) => r6(p[1])) }, op));
}

// ------------------------------------------------------------------ render
async function render(a) {
  args = a;
  wrap.style.height = a.height + "px";
  setHeight();
  if (a.data_key !== dataKey) {
    const t0 = performance.now();
    statusEl.textContent = `drawing ${a.n.toLocaleString("en")} products …`;
    const r = await fetch(a.points_url);
    if (!r.ok) throw new Error(`points: HTTP ${r.status}`);
    sample = decode(new Uint8Array(await r.arrayBuffer()), a.traces, a.frame);
    dataKey = a.data_key;
    document.body.dataset.fetchMs = String(Math.round(performance.now() - t0));
  } else {                       // the same points: new styles (dimmed when something is lit)
    sample.traces = sample.traces.map((t, i) => ({ ...t, ...a.traces[i].spec, marker:
      a.traces[i].spec.marker.color === "@codes" ? { ...a.traces[i].spec.marker,
        color: t.marker.color } : a.traces[i].spec.marker }));
  }
  if (a.hl_key !== hlKey) { hlKey = a.hl_key; highlights = decode(u8(a.highlights), a.hl_traces, a.frame); }
  if (a.overlays !== ovText) { ovText = a.overlays; overlays = JSON.parse(a.overlays || "[]"); }
  data = [...sample.traces, ...highlights.traces, ...overlays];
  traceIds = [...sample.ids, ...highlights.ids, ...overlays.map(() => null)];
  const t1 = performance.now();
  const font = { family: getComputedStyle(document.body).fontFamily, color: "#31333f" };
  await Plotly.react(plotDiv, data, { font, ...a.layout, height: a.height },
                     { displaylogo: false, scrollZoom: true, responsive: true });
  if (!plotted) { plotted = true; listen(); }
  statusEl.textContent = "";
  thumbs.adopt(a.shards);
  document.body.dataset.drawn = String(a.n);
  document.body.dataset.drawMs = String(Math.round(performance.now() - t1));
  document.body.dataset.state = "drawn";
  setHeight();
}

// ------------------------------------------------------------------ the camera
// the scene's own camera: gl-plot3d's model, view and projection matrices (column-major, as
// WebGL's) after plotly's per-axis data scale, as one matrix from data coordinates to clip
// space; the box sends it, and the tests project drawn products with it
const scene = () => plotDiv._fullLayout.scene._scene;
function matMul(a, b) {          // 4x4, column-major
  const out = new Array(16).fill(0);
  for (let c = 0; c < 4; c++)
    for (let r = 0; r < 4; r++)
      for (let k = 0; k < 4; k++) out[4 * c + r] += a[4 * k + r] * b[4 * c + k];
  return out;
}
function clipMatrix() {
  const sc = scene(), cp = sc.glplot.cameraParams, ds = sc.dataScale;
  const scale = [ds[0], 0, 0, 0, 0, ds[1], 0, 0, 0, 0, ds[2], 0, 0, 0, 0, 1];
  return matMul(cp.projection, matMul(cp.view, matMul(cp.model, scale)));
}
function canvasBox() {           // the scene's canvas in CSS px of #wrap
  const r = scene().glplot.canvas.getBoundingClientRect(), w = wrap.getBoundingClientRect();
  return { left: r.left - w.left, top: r.top - w.top, width: r.width, height: r.height };
}
function toNdc(px, py) {         // CSS px in #wrap -> normalised device coordinates, y up
  const c = canvasBox();
  return [((px - c.left) / c.width) * 2 - 1, 1 - ((py - c.top) / c.height) * 2];
}
function project(x, y, z) {      // data coordinates -> CSS px in #wrap
  const m = clipMatrix(), c = canvasBox();
  const v = [0, 1, 3].map((i) => m[i] * x + m[4 + i] * y + m[8 + i] * z + m[12 + i]);
  return [c.left + ((v[0] / v[2] + 1) / 2) * c.width, c.top + ((1 - v[1] / v[2]) / 2) * c.height];
}

// ------------------------------------------------------------------ for tests and benchmarks
function screenOf(c) {           // a drawn product's position on screen (CSS px in #wrap), or null
  for (let t = 0; t < traceIds.length; t++) {
    const k = traceIds[t] ? traceIds[t].indexOf(c) : -1;
    if (k >= 0) return project(data[t].x[k], data[t].y[k], data[t].z[k]);
  }
  return null;
}
window.kickspace3d = {
  get args() { return args; }, get hovered() { return hovered; }, get data() { return data; },
  traceIds: () => traceIds, screenOf, project, clipMatrix, toNdc, shards: thumbs.shards,
  plot: plotDiv,
};
