/**
 * The one rule for seeds, wherever they come from (the seed box, a shared link): a whole number
 * from 0 to 4294967295, written in decimal digits. The noise generator (workers/pipeline/noise.ts)
 * takes a 32-bit seed, so anything else (negative, fractional, larger, "1e3", text) is refused with
 * the rule said in words, never wrapped or rounded into some other seed without telling.
 */
export const SEED_MAX = 0xffffffff;
export const SEED_RULE = `a whole number from 0 to ${SEED_MAX}`;

/** The seed `text` names, or null when it breaks the rule (empty included). */
export function parseSeed(text: string | null | undefined): number | null {
  const t = (text ?? '').trim();
  if (!/^\d{1,10}$/.test(t)) return null;
  const n = Number(t);
  return n <= SEED_MAX ? n : null;
}

export const randomSeed = (): number => crypto.getRandomValues(new Uint32Array(1))[0];
