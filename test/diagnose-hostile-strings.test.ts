// Issue 10's "one quoting contract, proven" on the real parts: the example's traces, and the same traces with
// every error text, tool name, metadata value and one metadata key rewritten to carry backslashes, quotes and
// SQL comment markers, go through the real Orient and Discover (real `bt sql` against the local server) and the
// pure diagnose(). The plans match route for route: same artifacts in the same order, same target kinds, same
// counts — the hostile strings never change a query's meaning, never break one, never match nothing.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import { createActivities } from '../src/activities/index.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { diagnose, type Diagnosis } from '../src/workflows/logic/diagnose.js';
import type { DiscoverEvidence } from '../src/workflows/logic/evidence.js';
import { EXAMPLE_DIR, btEnvFor, generateAtFixedClock, type Row } from './support/example-window.js';
import { wholeEvidence } from '../src/activities/evidence-file.js';

/**
 * Backslashes (one trailing), both quotes, comment markers and an injection attempt — short enough that a
 * metadata value stays a cohort-like scalar (Orient skips values over 40 characters as free text).
 */
const hostile = (s: string): string => `${s}\\' OR 1=1--"/*\\`;
/** A metadata key with quotes and comment markers (keys with backslashes are refused by design, see docs/sql-dialect.md). */
const HOSTILE_KEY = `chan"nel' -- /*`;

function rewrite(row: Row): Row {
  const r = JSON.parse(JSON.stringify(row)) as Row;
  if (typeof r.error === 'string') r.error = hostile(r.error);
  if (r.span_attributes?.type === 'tool' && typeof r.span_attributes.name === 'string') r.span_attributes.name = hostile(r.span_attributes.name);
  if (r.metadata && typeof r.metadata === 'object') {
    for (const [k, v] of Object.entries(r.metadata)) if (typeof v === 'string' && k !== 'model') r.metadata[k] = hostile(v);
    if ('channel' in r.metadata) {
      r.metadata[HOSTILE_KEY] = r.metadata.channel;
      delete r.metadata.channel;
    }
  }
  return r;
}

interface Result {
  evidence: DiscoverEvidence;
  diagnosis: Diagnosis;
}

describe('a snapshot with hostile strings is diagnosed exactly as the plain one', () => {
  let home: string;
  let server: LocalServerHandle;
  let plain: Result;
  let nasty: Result;

  async function analyse(project: string, dir: string): Promise<Result> {
    await server.seedFromSyncDir(dir, { projectName: project });
    const activities = createActivities({ btEnv: btEnvFor(server.btEnv(), home), appUrl: server.appUrl });
    const config = flywheelInputSchema.parse({ project, agentDir: EXAMPLE_DIR, workOnCopy: false, outDir: join(home, 'out'), runsDir: join(home, 'runs') });
    const ctx = await activities.orient(config, `hostile-${project}`);
    const evidence = await wholeEvidence(await activities.discover({ ctx, goal: config.goal, windowDays: config.windowDays, iteration: 1 }));
    return { evidence, diagnosis: diagnose(evidence, { binaryScores: ctx.binaryScores, ...(ctx.primaryScore ? { primaryScore: ctx.primaryScore } : {}) }) };
  }

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'diagnose-hostile-'));
    server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
    const plainData = await generateAtFixedClock({ outDir: join(home, 'plain'), projectName: 'plain-agent', traces: 1500, seed: 42 });
    // The hostile copy: same spec layout, a different project id, every row rewritten.
    const nastyDir = join(home, 'nasty', 'spec');
    cpSync(plainData.gen.dir, nastyDir, { recursive: true });
    const NASTY_ID = '00000000-0000-4000-8000-00000000bad1';
    for (const f of ['spec.json', 'manifest.json']) {
      const p = join(nastyDir, f);
      writeFileSync(p, readFileSync(p, 'utf8').replaceAll(String(plainData.rows[0]!.project_id), NASTY_ID));
    }
    const part = join(nastyDir, 'data', 'part-000001.jsonl');
    const lines = readFileSync(part, 'utf8').split('\n').filter(Boolean);
    writeFileSync(part, lines.map((l) => JSON.stringify({ ...rewrite(JSON.parse(l) as Row), project_id: NASTY_ID })).join('\n') + '\n');
    plain = await analyse('plain-agent', plainData.gen.dir);
    nasty = await analyse('nasty-agent', nastyDir);
  }, 600_000);

  afterAll(async () => {
    await server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('the hostile strings reached the evidence literally', () => {
    const tools = nasty.evidence.reliability.toolErrors.map((t) => t.tool);
    expect(tools).toContain(hostile('lookup_order'));
    expect(nasty.evidence.cohorts.some((c) => c.dimension === 'metadata' && c.value === hostile('shipping'))).toBe(true);
    expect(nasty.evidence.cohorts.some((c) => c.key === HOSTILE_KEY)).toBe(plain.evidence.cohorts.some((c) => c.key === 'channel'));
  });

  it('the same traffic, scores, errors and cohort counts', () => {
    expect(nasty.evidence.traffic.traces).toBe(plain.evidence.traffic.traces);
    expect(nasty.evidence.scores.map((s) => [s.name, s.n, s.mean])).toEqual(plain.evidence.scores.map((s) => [s.name, s.n, s.mean]));
    expect(nasty.evidence.reliability.errorCount).toBe(plain.evidence.reliability.errorCount);
    expect(nasty.evidence.reliability.toolErrors.map((t) => [t.errors, t.calls, t.exampleTraceIds.length])).toEqual(
      plain.evidence.reliability.toolErrors.map((t) => [t.errors, t.calls, t.exampleTraceIds.length]),
    );
    const counts = (e: DiscoverEvidence) => e.cohorts.map((c) => [c.dimension, c.traffic, c.meanScore, c.exampleTraceIds.length]).sort();
    expect(counts(nasty.evidence)).toEqual(counts(plain.evidence));
  });

  it('the same plan: artifacts in order, target kinds, confidence', () => {
    const shape = (d: Diagnosis) => d.routes.map((r) => ({ artifact: r.artifact, confidence: r.confidence, targets: r.targets.map((t) => t.kind).sort() }));
    expect(shape(nasty.diagnosis)).toEqual(shape(plain.diagnosis));
    expect(nasty.diagnosis.findings.length).toBe(plain.diagnosis.findings.length);
  });
});
