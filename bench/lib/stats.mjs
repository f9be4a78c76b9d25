// Summaries of repeated measurements: median and spread, never a mean alone (these machines are
// shared and noisy; one slow outlier must not move the headline figure).

const sorted = (xs) => [...xs].filter(Number.isFinite).sort((a, b) => a - b);

/** Linear-interpolated quantile q ∈ [0, 1] of xs. */
export function quantile(xs, q) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (xs) => quantile(xs, 0.5);

/** { n, median, p95, min, max, iqr: [p25, p75] } rounded to `digits`. */
export function summarize(xs, digits = 1) {
  const r = (v) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
  const s = sorted(xs);
  return {
    n: s.length,
    median: r(median(s)),
    p95: r(quantile(s, 0.95)),
    min: r(s[0]),
    max: r(s[s.length - 1]),
    iqr: [r(quantile(s, 0.25)), r(quantile(s, 0.75))],
  };
}

/** Runs `sides` (name → async fn) `reps` times, alternating the order each rep (ABBA…), so slow
 *  drift in machine load hits both sides alike. Returns name → array of results. */
export async function alternate(sides, reps, onRep = () => undefined) {
  const names = Object.keys(sides);
  const out = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < reps; i++) {
    const order = i % 2 === 0 ? names : [...names].reverse();
    for (const n of order) out[n].push(await sides[n](i));
    onRep(i, out);
  }
  return out;
}

/** Per-pair ratios a[i] / b[i] (pairs were measured back to back). */
export const pairRatios = (a, b) => a.map((v, i) => v / b[i]);
