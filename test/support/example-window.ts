/**
 * Generates the support-agent example traces so that window filters evaluated by the server
 * (`created >= NOW() - INTERVAL N day`, NOW() = the server's clock at query time) give the same
 * answer as the same filter computed in the test from the generated jsonl.
 *
 * The generator places rows at fixed offsets before `now` (for a given seed), so it is run once at
 * t0 to learn the row ages, then (if needed) again with `now = t0 - shift`, the smallest whole-second
 * shift that keeps every row's age at least `marginMs` away from every window boundary for the whole
 * time the test may run (`runtimeMs`). Membership of every row in every window is then the same for
 * any query issued between t0 and t0 + runtimeMs, and the test computes it with `inWindow`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateExampleTraces,
  readSpecRows,
  type GenerateTracesOptions,
  type GenerateTracesResult,
} from '../../examples/support-agent/generate-traces.js';
import { packageRoot } from '../../src/paths.js';
import { answer } from '../../examples/support-agent/src/agent.js';
import { scoreAll } from '../../examples/support-agent/scorers.js';

export const DAY_MS = 86_400_000;
export const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-agent');

export type Row = Record<string, any>;

export interface SafeTraces {
  gen: GenerateTracesResult;
  rows: Row[];
  /** The `now` the generator used. */
  now: Date;
  /** Reference time: windows are computed as `created >= t0 - days`. */
  t0: number;
  /** How far `now` was moved back from t0 to keep rows away from the boundaries. */
  shiftMs: number;
  inWindow(row: Row, days: number): boolean;
  /** Throws when the test has run longer than the interval the windows were made safe for. */
  assertStillSafe(): void;
}

export interface SafeOptions extends Omit<GenerateTracesOptions, 'now'> {
  /** The window sizes (days) the test will compare counts for. */
  windowsDays: number[];
  /** How long after t0 queries may still run (default 15 min). */
  runtimeMs?: number;
  /** Minimum distance of any row from a boundary (default 5 s; covers the generator's second rounding). */
  marginMs?: number;
}

const createdMs = (r: Row): number => Date.parse(String(r.created));

/** Smallest shift s ≥ 0 (ms) such that no age + s falls in any [B - runtime - margin, B + margin]. */
export function safeShift(agesMs: number[], windowsDays: number[], runtimeMs: number, marginMs: number): number {
  const forbidden: Array<[number, number]> = [];
  for (const age of agesMs) {
    for (const d of windowsDays) {
      const b = d * DAY_MS;
      const lo = b - runtimeMs - marginMs - age;
      const hi = b + marginMs - age;
      if (hi >= 0) forbidden.push([lo, hi]);
    }
  }
  forbidden.sort((a, b) => a[0] - b[0]);
  let s = 0;
  for (const [lo, hi] of forbidden) {
    if (lo > s) break;
    if (hi >= s) s = Math.ceil((hi + 1) / 1000) * 1000;
  }
  return s;
}

export async function generateWithSafeWindows(opts: SafeOptions): Promise<SafeTraces> {
  const { windowsDays, runtimeMs = 15 * 60_000, marginMs = 5_000, ...genOpts } = opts;
  const t0 = Date.now();
  let now = new Date(t0);
  let gen = await generateExampleTraces({ ...genOpts, now });
  let rows = readSpecRows(gen.dir);
  const shiftMs = safeShift(rows.map((r) => t0 - createdMs(r)), windowsDays, runtimeMs, marginMs);
  if (shiftMs > 0) {
    now = new Date(t0 - shiftMs);
    gen = await generateExampleTraces({ ...genOpts, now });
    rows = readSpecRows(gen.dir);
  }
  // Re-check on the rows actually written (the generator rounds `now` to whole seconds).
  const residual = safeShift(rows.map((r) => t0 - createdMs(r)), windowsDays, runtimeMs, marginMs - 1_500);
  if (residual !== 0) throw new Error(`generated rows still sit within ${marginMs} ms of a window boundary (shift ${shiftMs} ms)`);
  return {
    gen,
    rows,
    now,
    t0,
    shiftMs,
    inWindow: (row, days) => createdMs(row) >= t0 - days * DAY_MS,
    assertStillSafe: () => {
      const elapsed = Date.now() - t0;
      if (elapsed > runtimeMs) throw new Error(`the test ran ${elapsed} ms, longer than the ${runtimeMs} ms its windows were made safe for`);
    },
  };
}

/** BtClient/bt environment for a local server: temp HOME and XDG dirs, the project's node_modules/.bin first on PATH. */
export function btEnvFor(serverEnv: Record<string, string>, home: string): Record<string, string> {
  return {
    ...serverEnv,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    BRAINTRUST_NO_INPUT: '1',
    PATH: `${join(packageRoot, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
  };
}

export interface GoldenCase {
  id: string;
  input: { question: string; customer_tier?: string; locale?: string };
  expected: { category: string; keywords: string[] };
  metadata?: Record<string, unknown>;
}

/** The golden cases and the scores the shipped agent gets on each, computed in-process (no bt). */
export function goldenScores(): Array<{ case: GoldenCase; scores: Record<string, number> }> {
  const cases = JSON.parse(readFileSync(join(EXAMPLE_DIR, 'cases.json'), 'utf8')) as GoldenCase[];
  return cases.map((c) => {
    const output = answer(c.input);
    const s = scoreAll({ input: c.input, output, expected: c.expected });
    const scores: Record<string, number> = {};
    for (const [k, v] of Object.entries(s)) if (typeof v === 'number') scores[k] = v;
    return { case: c, scores };
  });
}
