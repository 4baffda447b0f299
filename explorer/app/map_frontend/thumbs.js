// Product pictures and hover texts for the catalogue maps (map.js: 2-D, map3d.js: 3-D), fetched
// lazily one image shard at a time: a WebP atlas of up to `per_shard` products (thumbs.size px
// cells, thumbs.cols a row) and its JSON texts [[name, sku, brand], ...]. Python serves a
// shard's URLs once the component's value has asked for it (`need`). Every catalogue string is
// put in the page with textContent, never as HTML.
export const MAX_NEED = 48;     // shards asked for at most (memory on both sides)

// getArgs(): the args Python last sent ({thumbs, shards}); ask(): send the value now (the need
// list changed); loaded(): a shard's picture arrived (redraw what uses it); wrap: the element
// the tooltip (tip) lies in and follows the mouse over.
export function createThumbs({ getArgs, ask, loaded, wrap, tip, tipImg, tipText }) {
  const shards = new Map();       // shard id -> {img, meta, ready}
  const need = new Set();
  let needTimer = null, shown = -1, mouse = [0, 0];
  const per = () => (getArgs().thumbs ? getArgs().thumbs.per_shard : 1024);
  const shardOf = (c) => Math.floor(c / per());

  function want(k) {
    if (!getArgs().thumbs || shards.has(k) || need.has(k)) return;
    need.add(k);
    while (need.size > MAX_NEED) need.delete(need.values().next().value);
    clearTimeout(needTimer);
    needTimer = setTimeout(ask, 120);
  }
  function adopt(urls) {
    for (const [key, u] of Object.entries(urls || {})) {
      const k = Number(key);
      if (shards.has(k)) continue;
      const s = { img: new Image(), meta: null, ready: false };
      shards.set(k, s);
      s.img.onload = () => { s.ready = true; loaded(); refresh(); };
      s.img.src = u.img;
      fetch(u.meta).then((r) => r.json()).then((m) => { s.meta = m; refresh(); })
        .catch(() => { s.meta = []; });
    }
  }
  function draw(ctx, c, x, y, size) {     // product c's picture at (x, y); false: not loaded yet
    const s = shards.get(shardOf(c));
    if (!s || !s.ready) return false;
    const t = getArgs().thumbs, j = c % t.per_shard;
    const sx = (j % t.cols) * t.size, sy = Math.floor(j / t.cols) * t.size;
    ctx.drawImage(s.img, sx, sy, t.size, t.size, x, y, size, size);
    return true;
  }
  function refresh() {                    // the tooltip of the product shown (its shard arrived)
    const c = shown;
    if (c < 0) return;
    const s = shards.get(shardOf(c));
    const ctx = tipImg.getContext("2d");
    ctx.fillStyle = "#f4f4f6"; ctx.fillRect(0, 0, 96, 96);
    if (!draw(ctx, c, 0, 0, 96)) want(shardOf(c));
    tipText.replaceChildren();
    const row = s && s.meta ? s.meta[c % per()] : null;
    if (row) {
      const b = document.createElement("b");
      b.textContent = row[0];
      tipText.append(b, document.createTextNode(row.slice(1).filter(Boolean).join(" · ")));
    } else {
      tipText.textContent = getArgs().thumbs ? "loading …" : `product ${c}`;
    }
  }
  function show(c) {                      // the tooltip for catalogue index c; c < 0 hides it
    shown = c;
    tip.hidden = c < 0;
    refresh();
  }
  function place() {                      // beside the mouse, inside wrap
    const w = wrap.clientWidth, h = wrap.clientHeight;
    const tw = tip.offsetWidth || 120, th = tip.offsetHeight || 130;
    let x = mouse[0] + 14, y = mouse[1] + 14;
    if (x + tw > w) x = Math.max(0, mouse[0] - tw - 14);
    if (y + th > h) y = Math.max(0, mouse[1] - th - 14);
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }
  wrap.addEventListener("mousemove", (e) => {
    const r = wrap.getBoundingClientRect();
    mouse = [e.clientX - r.left, e.clientY - r.top];
    if (!tip.hidden) place();
  });
  return { shards, need, shardOf, want, adopt, draw, refresh, show, place,
           needList: () => [...need].slice(-MAX_NEED), get shown() { return shown; } };
}
