// KickSpace live decoder: decode the bundle's decoder.onnx in the browser while a slider is
// dragged (onnxruntime-web, WebAssembly, single thread); tell the server only settled values.
// Python side and data contract: explorer/app/live_decoder.py.

import { ClosestStrip } from "./closest.js";
import { EquationPicture } from "./equation.js";
import { decimals, latent, snap } from "./maths.js";

const VENDOR = new URL("./vendor/", import.meta.url);
const sessions = new Map();   // model URL -> Promise<InferenceSession> (shared by instances)
const instances = new WeakMap();
let ortPromise = null;

// One history entry per page visit: Streamlit pushes an entry whenever the server changes
// st.query_params (a release's echo, an anchor picked), so Back would walk through every
// change. A push that keeps the page's path becomes a replace; moving to another page still
// pushes. Installed once, when the first live decoder loads, for the rest of the visit.
if (!window.__ksHistoryPatched) {
  window.__ksHistoryPatched = true;
  const push = window.history.pushState.bind(window.history);
  window.history.pushState = function (state, title, url) {
    try {
      const next = new URL(url, window.location.href);
      if (next.origin === window.location.origin && next.pathname === window.location.pathname) {
        return window.history.replaceState(state, title, url);
      }
    } catch (e) {
      // an odd URL: leave it to the browser
    }
    return push(state, title, url);
  };
}

// Measurements for bench/bench_live.py and the browser test: per input event, the time from
// the event to the frame that shows it (ms).
const stats = (window.__ksLive = window.__ksLive || { latencies: [], frames: 0, decodes: [] });

function wasmAvailable() {
  try {
    return typeof WebAssembly === "object" && typeof WebAssembly.instantiate === "function" &&
      !window.__ksNoWasm;   // tests switch WebAssembly off with this flag
  } catch (e) {
    return false;
  }
}

// onnxruntime's WebAssembly, fetched gzipped (3.7 MB) and inflated here: Streamlit serves a
// component's .wasm through its gzip layer, which compressed the 14 MB again on every request
// (~0.24 s of server CPU each); a .gz file it sends as it is. null where the browser cannot
// inflate it: onnxruntime then fetches the plain .wasm itself.
async function wasmBinary() {
  if (typeof DecompressionStream !== "function") return null;
  try {
    const r = await fetch(new URL("ort-wasm-simd-threaded.wasm.gz", VENDOR).href);
    if (!r.ok || !r.body) return null;
    const bin = await new Response(r.body.pipeThrough(new DecompressionStream("gzip")))
      .arrayBuffer();
    stats.wasmFrom = "gz";
    return bin;
  } catch (e) {
    return null;
  }
}

async function loadOrt() {
  if (!ortPromise) {
    ortPromise = Promise.all([import(new URL("ort.wasm.bundle.min.mjs", VENDOR).href),
                              wasmBinary()]).then(([ort, bin]) => {
      ort.env.wasm.numThreads = 1;   // no cross-origin isolation: no threads anyway
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmPaths = { wasm: new URL("ort-wasm-simd-threaded.wasm", VENDOR).href };
      if (bin) ort.env.wasm.wasmBinary = bin;
      return ort;
    });
  }
  return ortPromise;
}

function session(modelUrl) {
  if (!sessions.has(modelUrl)) {
    const p = loadOrt().then((ort) => ort.InferenceSession.create(modelUrl, {
      executionProviders: ["wasm"], graphOptimizationLevel: "all",
    }).then((s) => ({ ort, s })));
    p.catch(() => sessions.delete(modelUrl));
    sessions.set(modelUrl, p);
  }
  return sessions.get(modelUrl);
}

function sameValues(a, b) {
  return a && b && a.length === b.length && a.every((v, i) => v === b[i]);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;   // every label is plain text
  return e;
}

class LiveDecoder {
  constructor(root) {
    this.root = root;
    this.values = [];
    this.sent = new Set();    // tickets of the releases this instance sent
    this.pending = null;      // {values, events: [t0...]}
    this.busy = false;
    this.mode = "loading";
    this.specKey = null;
    this.rows = [];
    root.replaceChildren();
    this.figure = el("figure", "ks-figure");
    this.canvas = el("canvas", "ks-canvas");
    this.canvas.setAttribute("role", "img");
    this.ctx = this.canvas.getContext("2d");
    this.caption = el("figcaption", "ks-caption");
    this.figure.append(this.canvas, this.caption);
    this.panel = el("div", "ks-panel");
    this.controls = el("div", "ks-controls");
    this.resetButton = el("button", "ks-reset", "Reset all");
    this.resetButton.type = "button";
    this.resetButton.addEventListener("click", () => this.reset());
    this.panel.append(this.resetButton, this.controls);
    root.append(this.figure, this.panel);
    this.equation = new EquationPicture(root);   // arithmetic: the picture drawn with its terms
    this.closest = new ClosestStrip(root);
    this.closestKey = null;
    this.closestFailed = false;
  }

  // during a drag, at most every 150 ms: get the pictures of the products nearest now
  prefetchClosest() {
    const spec = this.d && this.d.closest;
    const now = performance.now();
    if (!spec || this.closestFailed || now - (this.prefetchedAt || 0) < 150) return;
    this.prefetchedAt = now;
    this.closest.prefetch(spec, latent(this.d, this.values));
  }

  // the closest real products to the current values, found and drawn here (closest.js);
  // only when the values or the spec changed since the last time
  showClosest() {
    const spec = this.d && this.d.closest;
    if (!spec || this.closestFailed) {
      this.closest.hide();
      this.closestKey = null;
      return;
    }
    const vals = this.values.slice();
    const key = JSON.stringify([this.specKey, spec.dir, spec.k, vals]);
    if (key === this.closestKey) return;
    this.closestKey = key;
    const t0 = performance.now();
    this.closest.show(spec, latent(this.d, vals)).then((shown) => {
      if (!shown) return;
      this.root.dataset.closest = shown.indices.join(",");
      this.root.dataset.closestValues = vals.join(",");
      stats.closestShown = (stats.closestShown || 0) + 1;
      stats.closestAt = performance.now();   // names and distances drawn
      shown.pictures.then(() => {
        stats.picturesAt = performance.now();   // and every picture
        stats.picturesShown = (stats.picturesShown || 0) + 1;
        (stats.closestTimes = stats.closestTimes || []).push(performance.now() - t0);
      }, (e) => console.warn("KickSpace: a product picture failed to load", e));
    }).catch((e) => {
      console.warn("KickSpace: closest products in the browser are unavailable", e);
      this.closestFailed = true;   // the server shows them from the next release on
      this.closest.hide();
      this.closestKey = null;
    });
  }

  update(args) {
    const d = args.data || {};
    this.setStateValue = args.setStateValue;
    this.d = d;
    const S = d.size;
    if (this.canvas.width !== S) {
      this.canvas.width = S;
      this.canvas.height = S;
    }
    // nearest-neighbour scales in even steps: d.scale on a wide screen, d.phone_scale on a
    // narrow one (live_decoder.css)
    this.canvas.style.setProperty("--ks-wide", `${S * d.scale}px`);
    this.canvas.style.setProperty("--ks-narrow", `${S * (d.phone_scale || d.scale)}px`);
    this.canvas.setAttribute("aria-label", d.alt || "decoded image");
    this.root.classList.toggle("ks-path", d.mode === "path");
    this.resetButton.hidden = !d.reset;
    const specKey = JSON.stringify([d.model, d.mode, d.base, d.basis, d.a, d.b, d.method,
      d.controls.map((c) => [c.label, c.min, c.max, c.step, c.param]), d.ticks]);
    const specChanged = specKey !== this.specKey;
    if (specChanged) this.buildControls(d);
    // values from the server: news only when they differ from its last word (a rerun that
    // repeats them, e.g. the home hero's starting values, keeps what was moved here) and
    // do not echo a release of this browser's (it may have moved on since)
    const incoming = d.values.map((v, k) => snap(v, d.controls[k]));
    const echo = d.echo && this.sent.has(d.echo);
    const news = !sameValues(incoming, this.incoming);
    this.incoming = incoming;
    if (specChanged || (news && !echo && !sameValues(incoming, this.values))) {
      this.setValues(incoming);
    }
    this.specKey = specKey;
    this.equation.update(d.equation, new URL("../kickspace.fonts/", import.meta.url).href);
    this.setCaption();
    this.showClosest();
    // a rerun that began before this browser's last release (another widget's) may have put
    // the older values back in the URL: where the server never hears releases, the
    // component's values are the truth
    if (this.local()) this.writeUrl();
    if (d.image && (this.mode !== "wasm" || specChanged)) this.showServerImage(d.image, incoming);
    if (!wasmAvailable()) {
      this.setMode("server");
      return;
    }
    const url = new URL(`../kickspace.decoders/${d.model}`, import.meta.url).href;
    if (this.sess && this.sessUrl === url) {
      if (this.pending && !this.busy) this.run();
      return;
    }
    session(url).then(({ ort, s }) => {
      this.ort = ort;
      this.sess = s;
      this.sessUrl = url;
      this.setMode("wasm");
      this.request(null);
    }).catch((e) => {
      console.warn("KickSpace: decoding in the browser is unavailable", e);
      this.setMode("server");
    });
  }

  setMode(m) {
    this.mode = m;
    this.root.dataset.mode = m;
  }

  buildControls(d) {
    this.controls.replaceChildren();
    this.rows = d.controls.map((c, k) => {
      const row = el("div", "ks-row");
      const head = el("label", "ks-head");
      const name = el("span", "ks-label", c.label);
      const out = el("output", "ks-value");
      head.append(name, out);
      if (c.help) head.title = c.help;
      const input = el("input", "ks-range");
      input.type = "range";
      input.min = c.min; input.max = c.max; input.step = c.step;
      input.setAttribute("aria-label", c.label);
      if (c.param) input.dataset.param = c.param;
      input.addEventListener("input", (ev) => {
        this.values[k] = snap(input.value, c);
        out.textContent = this.show(this.values[k], c);
        this.request(ev.timeStamp || performance.now());
        this.prefetchClosest();
      });
      input.addEventListener("change", () => this.settle());
      head.addEventListener("dblclick", () => {   // double-click a label: back to default
        this.values[k] = c.default;
        this.syncInputs();
        this.request(performance.now());
        this.settle();
      });
      row.append(head, input);
      if (d.mode === "path" && d.ticks > 1) {
        const ticks = el("div", "ks-ticks");
        for (let i = 0; i < d.ticks; i++) ticks.append(el("span", "ks-tick", String(i + 1)));
        row.append(ticks);
      }
      this.controls.append(row);
      return { input, out, c };
    });
  }

  show(v, c) {
    if (this.d.mode === "path") return `${Math.round(v * 100)}%`;
    return (v > 0 ? "+" : "") + v.toFixed(decimals(c.step));
  }

  setValues(vals) {
    this.values = vals.slice();
    this.syncInputs();
    this.request(null);
  }

  syncInputs() {
    this.rows.forEach((r, k) => {
      r.input.value = String(this.values[k]);
      r.out.textContent = this.show(this.values[k], r.c);
    });
    this.setCaption();
  }

  setCaption() {
    const d = this.d;
    if (!d) return;
    if (d.caption) { this.caption.textContent = d.caption; return; }
    if (d.mode === "path") { this.caption.textContent = ""; return; }
    const moved = this.rows.filter((r, k) => this.values[k] !== r.c.default)
      .map((r) => `${r.c.label} ${this.show(this.values[this.rows.indexOf(r)], r.c)}`);
    this.caption.textContent = "moved: " + (moved.join(", ") || "nothing yet");
  }

  reset() {
    this.values = this.d.controls.map((c) => c.default);
    this.syncInputs();
    this.request(performance.now());
    this.settle();
  }

  showServerImage(url, values) {
    const img = new Image();
    img.onload = () => {
      if (this.mode === "wasm" && this.framesPainted) return;   // the browser's own is newer
      this.ctx.drawImage(img, 0, 0, this.canvas.width, this.canvas.height);
      this.equation.draw(this.canvas, values);
      this.root.dataset.server = String((Number(this.root.dataset.server) || 0) + 1);
    };
    img.src = url;
  }

  // a new picture is wanted for the current values; t0 = the input event's time, if any
  request(t0) {
    if (!this.pending) this.pending = { events: [] };
    if (t0 !== null && t0 !== undefined) this.pending.events.push(t0);
    if (this.mode === "wasm" && !this.busy) this.run();
  }

  async run() {
    if (!this.pending || !this.sess) return;
    this.busy = true;
    const job = this.pending;
    this.pending = null;
    const vals = this.values.slice();
    try {
      const z = latent(this.d, vals);
      const S = this.d.size;
      const t1 = performance.now();
      const feeds = { z: new this.ort.Tensor("float32", z, [1, this.d.dim]) };
      const out = await this.sess.run(feeds);
      const rgba = out.rgba.data;
      stats.decodes.push(performance.now() - t1);
      this.ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, S * S * 4), S, S), 0, 0);
      this.equation.draw(this.canvas, vals);
      this.framesPainted = (this.framesPainted || 0) + 1;
      this.root.dataset.frames = String(this.framesPainted);
      this.root.dataset.z = Array.from(z).join(",");
      if (job.events.length) {
        requestAnimationFrame(() => {
          const now = performance.now();
          for (const t0 of job.events) stats.latencies.push(now - t0);
          stats.frames += 1;
        });
      }
    } catch (e) {
      console.warn("KickSpace: decode failed, the server decodes from now on", e);
      this.setMode("server");
    } finally {
      this.busy = false;
      if (this.pending && this.mode === "wasm") this.run();
    }
  }

  // the values into the URL, in place (no history entry); defaults leave it
  writeUrl() {
    const d = this.d;
    const url = new URL(window.location.href);
    const q = url.searchParams;
    d.controls.forEach((c, k) => {
      if (!c.param) return;
      if (this.values[k] === c.default) q.delete(c.param);
      else q.set(c.param, String(this.values[k]));
    });
    const search = q.toString();
    url.search = search ? `?${search}` : "";
    if (url.href !== window.location.href) window.history.replaceState(window.history.state, "", url.href);
  }

  // the browser alone answers a release: it decodes, and shows the closest products or the
  // server needs nothing (d.quiet)
  local() {
    const d = this.d;
    return this.mode === "wasm" && ((Boolean(d.closest) && !this.closestFailed) || d.quiet);
  }

  // released: put the values in the URL and tell the server, unless the browser answers alone
  settle() {
    const d = this.d;
    this.writeUrl();
    stats.lastSettle = performance.now();
    stats.settles = (stats.settles || 0) + 1;
    this.setCaption();
    const closestHere = Boolean(d.closest) && !this.closestFailed;
    this.showClosest();
    // The browser drew the picture and the closest products, and the URL holds the values:
    // the server has nothing to do. It reads the values from the URL, which Streamlit's
    // frontend sends with every later rerun (another widget, Back, a reload, a link).
    if (this.local()) {
      stats.kept = (stats.kept || 0) + 1;
      return;
    }
    const n = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    this.sent.add(n);
    try {
      this.setStateValue("settled", { values: this.values.slice(), live: this.mode === "wasm", n,
        closest: closestHere });
    } catch (e) {
      console.error("KickSpace: could not send the settled values", e);
    }
    stats.sentOk = (stats.sentOk || 0) + 1;
  }
}

export default function (component) {
  const { parentElement } = component;
  const host = parentElement.querySelector(".ks-live");
  let inst = instances.get(host);
  if (!inst) {
    inst = new LiveDecoder(host);
    instances.set(host, inst);
  }
  inst.update(component);
}
