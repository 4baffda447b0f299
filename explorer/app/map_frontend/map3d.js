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
// | {seq, kind: "clear"} | null, view: null, need: [shard ids]}.
import { createThumbs } from "./thumbs.js";
import { connect, u8 } from "./protocol.js";

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
  render, statusEl, what: "The 3-D view", eseq: Math.floor(Math.random() * 1e9),
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
    send({ kind: "click", index: c });
  });
}

// a click on empty space clears the selection. plotly reports a click only on something it
// picks, so: a press and release on the scene that did not turn it (under 5 px apart, plotly's
// own click distance), with nothing picked under the mouse (a product or an overlay) before
// or during the press
let press = null;
plotDiv.addEventListener("mousedown", (e) => {
  clicked = false;
  press = e.button === 0 && e.target.tagName === "CANVAS" ? { x: e.clientX, y: e.clientY, over } : null;
}, true);
window.addEventListener("mouseup", (e) => {
  const p = press;
  press = null;
  if (!p || p.over || over || clicked || Math.hypot(e.clientX - p.x, e.clientY - p.y) >= 5) return;
  if (!args.n_selected) return;                // nothing to clear
  statusEl.textContent = "clearing the selection …";
  send({ kind: "clear" });
}, true);

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

// ------------------------------------------------------------------ for tests and benchmarks
// project data coordinates to CSS px in #wrap with the scene's own camera (gl-plot3d's model,
// view and projection matrices, column-major, after plotly's per-axis data scale)
function project(x, y, z) {
  const sc = plotDiv._fullLayout.scene._scene, cp = sc.glplot.cameraParams, ds = sc.dataScale;
  let v = [x * ds[0], y * ds[1], z * ds[2], 1];
  for (const m of [cp.model, cp.view, cp.projection])
    v = [0, 1, 2, 3].map((i) => m[i] * v[0] + m[4 + i] * v[1] + m[8 + i] * v[2] + m[12 + i] * v[3]);
  const r = sc.glplot.canvas.getBoundingClientRect(), w = wrap.getBoundingClientRect();
  return [r.left - w.left + ((v[0] / v[3] + 1) / 2) * r.width,
          r.top - w.top + ((1 - v[1] / v[3]) / 2) * r.height];
}
function screenOf(c) {           // a drawn product's position on screen (CSS px in #wrap), or null
  for (let t = 0; t < traceIds.length; t++) {
    const k = traceIds[t] ? traceIds[t].indexOf(c) : -1;
    if (k >= 0) return project(data[t].x[k], data[t].y[k], data[t].z[k]);
  }
  return null;
}
window.kickspace3d = {
  get args() { return args; }, get hovered() { return hovered; }, get data() { return data; },
  traceIds: () => traceIds, screenOf, project, shards: thumbs.shards, plot: plotDiv,
};
