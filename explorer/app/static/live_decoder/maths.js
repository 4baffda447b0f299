// KickSpace live decoder: the maths shared with the Python side (explorer/app/live_decoder.py:
// snap, combine_basis, point_on_path), so that the browser's latent is the server's.

export function decimals(step) {
  const s = String(step);
  return s.includes(".") ? s.length - s.indexOf(".") - 1 : 0;
}

export function snap(v, c) {
  const x = Math.min(c.max, Math.max(c.min, Number(v)));
  const r = Number((Math.round((x - c.min) / c.step) * c.step + c.min).toFixed(decimals(c.step)));
  return Object.is(r, -0) ? 0 : r;
}

// z = base + sum_k v_k basis_k, or the point at t on the path (explorer.app.live_decoder.point_on_path)
export function latent(d, values) {
  const n = d.dim;
  const z = new Float64Array(n);
  if (d.mode === "path") {
    const t = Math.min(1, Math.max(0, values[0]));
    const a = d.a, b = d.b;
    if (t === 0) return Float32Array.from(a);
    if (t === 1) return Float32Array.from(b);
    let done = false;
    if (d.method === "spherical" || d.method === "slerp") {
      let na = 0, nb = 0, dot = 0;
      for (let i = 0; i < n; i++) { na += a[i] * a[i]; nb += b[i] * b[i]; }
      na = Math.sqrt(na); nb = Math.sqrt(nb);
      if (na >= 1e-8 && nb >= 1e-8) {
        for (let i = 0; i < n; i++) dot += (a[i] / na) * (b[i] / nb);
        const omega = Math.acos(Math.min(1, Math.max(-1, dot)));
        if (Math.sin(omega) >= 1e-6) {
          const s0 = Math.sin((1 - t) * omega), s1 = Math.sin(t * omega), so = Math.sin(omega);
          const norm = (1 - t) * na + t * nb;
          for (let i = 0; i < n; i++) z[i] = ((s0 * a[i] / na + s1 * b[i] / nb) / so) * norm;
          done = true;
        }
      }
    }
    if (!done) for (let i = 0; i < n; i++) z[i] = (1 - t) * a[i] + t * b[i];
    return Float32Array.from(z);
  }
  for (let i = 0; i < n; i++) z[i] = d.base[i];
  d.basis.forEach((row, k) => {
    const v = values[k];
    if (v) for (let i = 0; i < n; i++) z[i] += v * row[i];
  });
  return Float32Array.from(z);
}

