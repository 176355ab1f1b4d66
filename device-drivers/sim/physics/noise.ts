// Deterministic noise: a value depends only on (seed, key), never on how time was stepped, so a
// simulated day is the same whether it is driven in one-second or one-minute steps.

/** A well-mixed 32-bit hash of two integers (the finaliser of MurmurHash3), as a number in [0, 1). */
export function hash01(seed: number, key: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(key | 0, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/**
 * Smooth value noise in [0, 1): random values at knots every `periodMs`, joined by a cosine ease.
 * `channel` separates independent streams (clouds, load) under one seed.
 */
export function valueNoise(seed: number, channel: number, tMs: number, periodMs: number): number {
  const x = tMs / periodMs;
  const k = Math.floor(x);
  const f = x - k;
  const a = hash01(seed + channel * 7919, k);
  const b = hash01(seed + channel * 7919, k + 1);
  const w = (1 - Math.cos(Math.PI * f)) / 2;
  return a + (b - a) * w;
}
