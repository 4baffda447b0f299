// KickSpace: the closest real products to a latent point, found and drawn in the browser, so
// that a slider's release costs the server nothing. The catalogue's files (latent means,
// image atlases, caption texts) are static, content-addressed, fetched once a page visit and
// kept by the browser's cache: explorer/app/live_catalogue.py.

const latents = new Map();   // folder URL -> Promise<Float32Array [N * D]>
const texts = new Map();     // folder URL + shard -> Promise<[[caption words], ...]>
const webps = new Map();     // folder URL + shard -> Promise<Blob>: each atlas fetched once a visit
const atlases = new Map();   // folder URL + shard -> Promise<ImageBitmap>, the latest MAX_ATLASES
const MAX_ATLASES = 6;       // a decoded 1,024-item atlas of 64 px pictures is 16 MB

function fetchOk(url) {
  return fetch(url).then((r) => {
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r;
  });
}

function once(map, key, make) {
  if (!map.has(key)) {
    const p = make();
    p.catch(() => map.delete(key));   // a failed fetch may be tried again later
    map.set(key, p);
  }
  const p = map.get(key);
  map.delete(key);                     // most recently used last
  map.set(key, p);
  return p;
}

export function loadLatents(folder, n, dim) {
  return once(latents, folder, () => fetchOk(new URL("latents.f32", folder).href)
    .then((r) => r.arrayBuffer()).then((buf) => {
      if (buf.byteLength !== n * dim * 4) throw new Error(`latents.f32: ${buf.byteLength} bytes, want ${n * dim * 4}`);
      return new Float32Array(buf);
    }));
}

const pad = (k) => String(k).padStart(5, "0");

function loadTexts(folder, k) {
  return once(texts, `${folder}#${k}`,
    () => fetchOk(new URL(`texts-${pad(k)}.json`, folder).href).then((r) => r.json()));
}

// the shard's atlas decoded (off the main thread) and kept while among the latest used: drawing
// a tile from an <img> would decode the whole 2,048 px atlas again each time. The WebP itself
// (~0.4 MB) is kept for the visit: the server's asset route sends no validators, so the
// browser's HTTP cache would fetch it again.
function loadAtlas(folder, k) {
  const key = `${folder}#${k}`;
  const p = once(atlases, key, () => once(webps, key,
    () => fetchOk(new URL(`images-${pad(k)}.webp`, folder).href).then((r) => r.blob()))
    .then((b) => createImageBitmap(b)));
  while (atlases.size > MAX_ATLASES) {
    const [key, old] = atlases.entries().next().value;
    atlases.delete(key);
    old.then((bm) => bm.close(), () => {});
  }
  return p;
}

// The k nearest rows of X [n, dim] to z under the Euclidean distance, computed in float64 from
// the float32 values as the server's LatentIndex re-scores them; ties go to the lower index.
// -> [[index, distance], ...] nearest first.
export function nearest(X, n, dim, z, k) {
  const q = Float64Array.from(z);
  const bi = new Int32Array(k).fill(-1);
  const bd = new Float64Array(k).fill(Infinity);
  for (let i = 0, off = 0; i < n; i++, off += dim) {
    let d = 0;
    for (let j = 0; j < dim; j++) {
      const t = X[off + j] - q[j];
      d += t * t;
    }
    if (d < bd[k - 1]) {
      let p = k - 1;
      while (p > 0 && bd[p - 1] > d) { bd[p] = bd[p - 1]; bi[p] = bi[p - 1]; p--; }
      bd[p] = d; bi[p] = i;
    }
  }
  const out = [];
  for (let p = 0; p < k; p++) if (bi[p] >= 0) out.push([bi[p], Math.fround(Math.sqrt(bd[p]))]);
  return out;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;   // catalogue strings are plain text
  return e;
}

// The strip under the component: a title and one card per product (picture, caption).
export class ClosestStrip {
  constructor(parent) {
    this.box = el("section", "ks-closest");
    this.title = el("p", "ks-closest-title");
    this.strip = el("div", "ks-strip");
    this.box.append(this.title, this.strip);
    this.box.hidden = true;
    parent.append(this.box);
    this.seq = 0;
  }

  // spec: the server's {dir, n, dim, size, cols, per_shard, k, title, scale}; z: Float32Array.
  // Draws the cards (captions) as soon as the nearest items are known, each picture when its
  // atlas is in. Resolves to {indices, pictures: Promise} (null when a newer call overtook it).
  async show(spec, z) {
    const seq = ++this.seq;
    const folder = new URL(`../kickspace.catalogue/${spec.dir}/`, import.meta.url).href;
    const X = await loadLatents(folder, spec.n, spec.dim);
    const found = nearest(X, spec.n, spec.dim, z, spec.k);
    const shard = (i) => Math.floor(i / spec.per_shard);
    const words = await Promise.all(found.map(([i]) => loadTexts(folder, shard(i))));
    if (seq !== this.seq) return null;
    const S = spec.size;
    const pictures = [];
    const cards = found.map(([i, dist], j) => {
      const t = i % spec.per_shard;
      const card = el("figure", "ks-card");
      card.dataset.index = String(i);
      const c = el("canvas", "ks-thumb");
      c.width = S; c.height = S;
      c.style.width = c.style.height = card.style.width = `${S * (spec.scale || 1)}px`;
      const w = (words[j][t] || []).filter((x) => x !== "");
      c.setAttribute("role", "img");
      c.setAttribute("aria-label", w[0] || `item ${i}`);
      card.append(c, el("figcaption", "ks-card-caption", [...w, `distance ${dist.toFixed(2)}`].join(" · ")));
      pictures.push(loadAtlas(folder, shard(i)).then((atlas) => {
        c.getContext("2d").drawImage(atlas, (t % spec.cols) * S, Math.floor(t / spec.cols) * S,
          S, S, 0, 0, S, S);
      }));
      return card;
    });
    this.title.textContent = spec.title || "";
    this.title.hidden = !spec.title;
    this.strip.replaceChildren(...cards);
    this.box.hidden = false;
    return { indices: found.map(([i]) => i), pictures: Promise.all(pictures) };
  }

  // while a slider is dragged: fetch and decode the atlases and texts of the items nearest
  // to z now, so that those of the release point are most likely in when it comes
  prefetch(spec, z) {
    const folder = new URL(`../kickspace.catalogue/${spec.dir}/`, import.meta.url).href;
    const X = latents.get(folder);
    if (!X) return;
    X.then((x) => {
      for (const [i] of nearest(x, spec.n, spec.dim, z, spec.k)) {
        const k = Math.floor(i / spec.per_shard);
        loadTexts(folder, k).catch(() => {});
        loadAtlas(folder, k).catch(() => {});
      }
    }, () => {});
  }

  hide() {
    this.seq++;
    this.box.hidden = true;
  }
}
