// KickSpace: the closest real products to a latent point, found and drawn in the browser, so
// that a slider's release costs the server nothing. The catalogue's files (latent means,
// image atlases, caption texts) are static, content-addressed, fetched once a page visit and
// kept by the browser's cache: explorer/app/live_catalogue.py.

const latents = new Map();   // folder URL -> Promise<Float32Array [N * D]>
const shards = new Map();    // folder URL + shard -> Promise<{img, texts}>

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
  return map.get(key);
}

export function loadLatents(folder, n, dim) {
  return once(latents, folder, () => fetchOk(new URL("latents.f32", folder).href)
    .then((r) => r.arrayBuffer()).then((buf) => {
      if (buf.byteLength !== n * dim * 4) throw new Error(`latents.f32: ${buf.byteLength} bytes, want ${n * dim * 4}`);
      return new Float32Array(buf);
    }));
}

function loadShard(folder, k) {
  const name = String(k).padStart(5, "0");
  return once(shards, `${folder}#${k}`, () => {
    const img = new Image();
    img.src = new URL(`images-${name}.webp`, folder).href;
    return Promise.all([img.decode().then(() => img),
      fetchOk(new URL(`texts-${name}.json`, folder).href).then((r) => r.json())])
      .then(([im, texts]) => ({ img: im, texts }));
  });
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
  // Resolves to the indices shown (or null when a newer call overtook this one).
  async show(spec, z) {
    const seq = ++this.seq;
    const folder = new URL(`../kickspace.catalogue/${spec.dir}/`, import.meta.url).href;
    const X = await loadLatents(folder, spec.n, spec.dim);
    const found = nearest(X, spec.n, spec.dim, z, spec.k);
    const parts = await Promise.all(found.map(([i]) => loadShard(folder, Math.floor(i / spec.per_shard))));
    if (seq !== this.seq) return null;
    const S = spec.size;
    const cards = found.map(([i, dist], j) => {
      const { img, texts } = parts[j];
      const t = i % spec.per_shard;
      const card = el("figure", "ks-card");
      card.dataset.index = String(i);
      const c = el("canvas", "ks-thumb");
      c.width = S; c.height = S;
      c.style.width = c.style.height = card.style.width = `${S * (spec.scale || 1)}px`;
      c.getContext("2d").drawImage(img, (t % spec.cols) * S, Math.floor(t / spec.cols) * S, S, S, 0, 0, S, S);
      const words = (texts[t] || []).filter((w) => w !== "");
      c.setAttribute("role", "img");
      c.setAttribute("aria-label", words[0] || `item ${i}`);
      card.append(c, el("figcaption", "ks-card-caption", [...words, `distance ${dist.toFixed(2)}`].join(" · ")));
      return card;
    });
    this.title.textContent = spec.title || "";
    this.title.hidden = !spec.title;
    this.strip.replaceChildren(...cards);
    this.box.hidden = false;
    return found.map(([i]) => i);
  }

  hide() {
    this.seq++;
    this.box.hidden = true;
  }
}
