// The example's diagnosis does not depend on the calendar: the real Orient and Discover activities (through
// the real `bt` against the local server) and the pure diagnose() plan the same routes for 60 consecutive
// days that cross a month and a year boundary, each at a different time of day. The server's NOW(), the
// generator's `now` and Discover's window all follow one clock that the test moves from date to date.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import { createActivities } from '../src/activities/index.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { diagnose } from '../src/workflows/logic/diagnose.js';
import { DAY_MS, EXAMPLE_DIR, btEnvFor, generateAtFixedClock } from './support/example-window.js';
import { wholeEvidence } from '../src/activities/evidence-file.js';

const DAYS = 60;
/** 2026-12-10 … 2027-02-07: crosses Dec → Jan (a year) and Jan → Feb (a month). */
const FIRST = Date.parse('2026-12-10T00:00:00Z');
/** Day i at hour (7i mod 24), minute (13i mod 60), second (i mod 60): every hour of the day is visited. */
const instant = (i: number): Date => new Date(FIRST + i * DAY_MS + ((7 * i) % 24) * 3_600_000 + ((13 * i) % 60) * 60_000 + (i % 60) * 1000);

interface PlanLine {
  artifact: string;
  id: string;
  targets: string[];
}

describe(`the example's plan on ${DAYS} consecutive dates`, () => {
  let home: string;
  let server: LocalServerHandle;
  let current = instant(0);
  const plans: Array<{ at: string; plan: PlanLine[]; window: { from: string; to: string } }> = [];

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'diagnose-dates-'));
    server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb'), now: () => current });
    const activities = createActivities({ btEnv: btEnvFor(server.btEnv(), home), appUrl: server.appUrl, clock: () => current });
    for (let i = 0; i < DAYS; i++) {
      current = instant(i);
      const project = `support-agent-${current.toISOString().slice(0, 10)}`;
      const data = await generateAtFixedClock({ outDir: join(home, `sync-${i}`), projectName: project, variant: 'defective', traces: 1500, seed: 42, now: current });
      await server.seedFromSyncDir(data.gen.dir, { projectName: project });
      const config = flywheelInputSchema.parse({ project, agentDir: EXAMPLE_DIR, workOnCopy: false, outDir: join(home, 'out'), runsDir: join(home, 'runs') });
      const ctx = await activities.orient(config, `dates-${i}`);
      const evidence = await wholeEvidence(await activities.discover({ ctx, goal: config.goal, windowDays: config.windowDays, iteration: 1 }));
      const d = diagnose(evidence, { binaryScores: ctx.binaryScores, ...(ctx.primaryScore ? { primaryScore: ctx.primaryScore } : {}) });
      plans.push({
        at: current.toISOString(),
        plan: d.routes.map((r) => ({ artifact: r.artifact, id: r.id, targets: r.targets.map((t) => `${t.kind}:${t.name}`).sort() })),
        window: { from: evidence.window.from, to: evidence.window.to },
      });
      rmSync(join(home, `sync-${i}`), { recursive: true, force: true });
    }
  }, 30 * 60_000);

  afterAll(async () => {
    await server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('covers 60 consecutive dates across a month and a year boundary', () => {
    const dates = plans.map((p) => p.at.slice(0, 10));
    expect(dates).toHaveLength(DAYS);
    expect(new Set(dates).size).toBe(DAYS);
    expect(dates).toContain('2026-12-31');
    expect(dates).toContain('2027-01-01');
    expect(dates).toContain('2027-01-31');
    expect(dates).toContain('2027-02-01');
    expect(new Set(plans.map((p) => p.at.slice(11, 13))).size).toBe(24);
  });

  it("each date's Discover window ends at that date's clock", () => {
    for (const p of plans) {
      expect(p.window.to).toBe(p.at);
      expect(Date.parse(p.window.to) - Date.parse(p.window.from)).toBe(7 * DAY_MS);
    }
  });

  it('plans the same routes, in the same order, on every date', () => {
    const first = plans[0]!.plan;
    // The plan is the example's: the deflected returns cohort (dataset) before the lookup_order tool (agent).
    expect(first.map((r) => r.artifact)).toEqual(expect.arrayContaining(['dataset', 'agent']));
    expect(first.some((r) => r.id === 'agent:tool:lookup_order')).toBe(true);
    const differing = plans.filter((p) => JSON.stringify(p.plan) !== JSON.stringify(first)).map((p) => `${p.at}: ${p.plan.map((r) => r.id).join(' | ')}`);
    expect(differing.join('\n'), `plan on ${plans[0]!.at}: ${first.map((r) => r.id).join(' | ')}`).toBe('');
  });
});
