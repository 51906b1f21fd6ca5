/**
 * Generates the support-agent example traces at the suite's fixed clock (FLYWHEEL_FAKE_NOW, see
 * fixed-clock.ts), so window filters evaluated by the server (`created >= NOW() - INTERVAL N day`, with
 * the server's NOW() pinned to the same instant) give exactly the answer the test computes from the
 * generated jsonl with `inWindow`, on any date and however long the test runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clockFromEnv } from '../../src/clock.js';
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

export interface WindowedTraces {
  gen: GenerateTracesResult;
  rows: Row[];
  /** The instant the traces were generated at and the server's NOW() answers with. */
  now: Date;
  /** `now` in ms: windows are `created >= t0 - days`. */
  t0: number;
  inWindow(row: Row, days: number): boolean;
}

const createdMs = (r: Row): number => Date.parse(String(r.created));

/** Generates the traces at `now` (default: the suite's fixed clock). */
export async function generateAtFixedClock(opts: Omit<GenerateTracesOptions, 'now'> & { now?: Date }): Promise<WindowedTraces> {
  const now = opts.now ?? clockFromEnv(process.env)();
  const gen = await generateExampleTraces({ ...opts, now });
  const rows = readSpecRows(gen.dir);
  const t0 = now.getTime();
  return { gen, rows, now, t0, inWindow: (row, days) => createdMs(row) >= t0 - days * DAY_MS };
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
