/**
 * Seeded randomness and ids shared by the example trace generators (and tests that want the same stream):
 * a small fast PRNG, weighted and uniform picks, and UUIDs derived from the stream or from text.
 */
import { createHash } from 'node:crypto';

/** mulberry32: a 32-bit seeded PRNG returning floats in [0, 1). */
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

/** One key of `weights`, with probability proportional to its weight (one draw). */
export function weighted<T extends string>(rng: () => number, weights: Record<T, number>): T {
  const entries = Object.entries(weights) as Array<[T, number]>;
  let r = rng() * entries.reduce((s, [, w]) => s + w, 0);
  for (const [k, w] of entries) if ((r -= w) < 0) return k;
  return entries[entries.length - 1]![0];
}

/** One item, uniformly (one draw). */
export function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

function uuidFromBytes(b: number[]): string {
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A version-4-shaped UUID from 16 draws. */
export function uuidFromRng(rng: () => number): string {
  return uuidFromBytes(Array.from({ length: 16 }, () => Math.floor(rng() * 256)));
}

/** A stable UUID for a text (sha256). */
export function uuidFromText(text: string): string {
  return uuidFromBytes([...createHash('sha256').update(text).digest().subarray(0, 16)]);
}
