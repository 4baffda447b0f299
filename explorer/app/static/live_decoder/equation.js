// KickSpace: the equation picture ("0.5 × A + 0.5 × B = result") drawn in the browser, from the
// picture the live decoder shows and the values it was decoded for, and its PNG download made
// here too: an arithmetic weight's release needs nothing from the server, and the picture and
// its file always belong together. The layout numbers and the font are the server's
// (explorer/render/pictures.py equation_picture; explorer/app/live_equation.py).

const fonts = new Map();   // font URL -> Promise<family name>

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;   // plain text only
  return e;
}

// DejaVu Sans, the one font of every generated picture (×, − and the rest drawn alike)
function loadFont(url) {
  if (!fonts.has(url)) {
    const face = new FontFace("KickSpaceDejaVuSans", `url(${url})`);
    fonts.set(url, face.load().then((f) => { document.fonts.add(f); return "KickSpaceDejaVuSans"; },
      (e) => { console.warn("KickSpace: the pictures' font did not load", e); return "sans-serif"; }));
  }
  return fonts.get(url);
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = reject;
    img.src = src;
  });
}

// a weight as Python's f"{v:g}" writes it (the values are snapped to their step)
const weight = (v) => String(Number(v));

export class EquationPicture {
  constructor(parent) {
    this.box = el("section", "ks-equation");
    this.canvas = el("canvas", "ks-eq-canvas");
    this.canvas.setAttribute("role", "img");
    this.download = el("button", "ks-eq-download", "Download the equation (PNG)");
    this.download.type = "button";
    this.download.disabled = true;
    this.download.addEventListener("click", () => this.save());
    this.box.append(this.canvas, this.download);
    this.box.hidden = true;
    parent.append(this.box);
    this.result = document.createElement("canvas");   // the decoded picture, as last shown
    this.values = null;
    this.key = null;
  }

  // spec: explorer.app.live_equation.equation_spec's dict, or null (no equation on this page)
  update(spec, fontUrl) {
    const key = spec ? JSON.stringify(spec) : null;
    if (key === this.key) return;
    this.key = key;
    this.spec = spec;
    this.box.hidden = !spec;
    // new terms: the picture shown is theirs only once the next decode is drawn
    this.values = null;
    this.download.disabled = true;
    this.box.classList.add("ks-stale");
    if (!spec) return;
    this.ready = Promise.all([loadFont(new URL(spec.font, fontUrl).href),
      ...spec.terms.map((t) => loadImage(t.image))]).then(([family, ...images]) => ({ family, images }));
    this.ready.catch((e) => console.warn("KickSpace: the equation picture failed", e));
  }

  // the live decoder just showed `source` (a canvas) for these values: copy it now, draw when
  // the font and the terms' pictures are in
  draw(source, values) {
    if (!this.spec) return;
    this.result.width = source.width;
    this.result.height = source.height;
    this.result.getContext("2d").drawImage(source, 0, 0);
    this.values = values.slice();
    this.paintWhenReady();
  }

  paintWhenReady() {
    const spec = this.spec;
    this.ready.then((r) => { if (spec === this.spec) this.paint(r); }, () => {});
  }

  captions() {
    const terms = this.spec.terms.map((t) => (t.weight === null || t.weight === undefined ? t.label
      : `${weight(this.values[t.weight])} × ${t.label}`));
    return [...terms, "result"];
  }

  paint({ family, images }) {
    const spec = this.spec, L = spec.layout;
    const S = this.result.width, T = S * spec.scale;
    const n = spec.terms.length;
    const canvas = this.canvas;
    canvas.width = L.pad + (n + 1) * (T + L.pad) + n * L.op_w;
    canvas.height = 2 * L.pad + T + L.cap_h;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;   // nearest neighbour, as the server's upscale
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.textBaseline = "alphabetic";      // PIL puts the ascender line at y: y + ascent here
    const caps = this.captions();
    const pics = [...images, this.result];
    const ops = [...spec.terms.map((t) => t.op), "="];
    let x = L.pad;
    pics.forEach((pic, i) => {
      if (i > 0) {
        ctx.font = `${L.op_size}px ${family}`;
        ctx.fillStyle = L.op_fill;
        const w = ctx.measureText(ops[i]).width;
        ctx.fillText(ops[i], x + (L.op_w - w) / 2, L.pad + T / 2 + L.op_dy + spec.ascent[0]);
        x += L.op_w;
      }
      ctx.drawImage(pic, x, L.pad, T, T);
      const cap = caps[i].length <= L.cap_max ? caps[i] : `${caps[i].slice(0, L.cap_max - 1)}…`;
      ctx.font = `${L.cap_size}px ${family}`;
      ctx.fillStyle = L.cap_fill;
      const w = ctx.measureText(cap).width;
      ctx.fillText(cap, x + (T - w) / 2, L.pad + T + L.cap_dy + spec.ascent[1]);
      x += T + L.pad;
    });
    const text = caps.slice(0, n).map((c, i) => (i ? `${spec.terms[i].op} ${c}` : c)).join(" ");
    canvas.setAttribute("aria-label", `${text} = result`);
    this.box.dataset.values = this.values.join(",");
    this.box.dataset.painted = String((Number(this.box.dataset.painted) || 0) + 1);
    this.download.disabled = false;
    this.box.classList.remove("ks-stale");
  }

  // the PNG of the picture shown now: made here, at the click
  save() {
    this.canvas.toBlob((blob) => {
      if (!blob) return;
      const a = el("a");
      a.href = URL.createObjectURL(blob);
      a.download = this.spec.file_name || "equation.png";
      this.box.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    }, "image/png");
  }
}
