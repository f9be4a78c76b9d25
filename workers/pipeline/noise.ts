/**
 * Seeded Gaussian noise: same seed → same latent, bit for bit, in every browser. Math.random
 * cannot be seeded, so a small PRNG (mulberry32, 32-bit state) feeds Box–Muller.
 */

/** mulberry32: tiny, fast, passes the usual statistical batteries well enough for noise. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` samples of N(0, 1) from `seed` (Box–Muller; both outputs of each pair are used). */
export function gaussianNoise(seed: number, n: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // 1 - u keeps u1 in (0, 1], so log never sees 0.
    const u1 = 1 - rand();
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Seeds are shown to people and put in links, so keep them in the 32-bit unsigned range. */
export function normalizeSeed(seed: number): number {
  return Number.isFinite(seed) ? Math.trunc(Math.abs(seed)) >>> 0 : 0;
}
