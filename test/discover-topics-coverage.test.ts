// Topics cohorts, dataset coverage and the baseline choice, through the real Orient and Discover activities (real
// `bt` against the local server):
// - coverage counts the rows of the project's own datasets per cohort (metadata key, tag, topic label), and only
//   the datasets its eval/instruction files name when they name any;
// - a project without Topics data (no classifications) still gets metadata/tag cohorts and a "no Topics" note;
// - the newest-experiment baseline skips the experiments the flywheel created.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import { createActivities } from '../src/activities/index.js';
import { isFlywheelExperiment } from '../src/activities/orient.js';
import { BtClient } from '../src/bt/client.js';
import { clockFromEnv } from '../src/clock.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import type { CohortStats, DiscoverEvidence } from '../src/workflows/logic/evidence.js';
import type { OrientContext } from '../src/workflows/types.js';
import { btEnvFor, generateAtFixedClock, type Row } from './support/example-window.js';
import { wholeEvidence } from '../src/activities/evidence-file.js';

const TOPICS = 'support-topics';
const PLAIN = 'support-plain';

let home: string;
let server: LocalServerHandle;
let activities: ReturnType<typeof createActivities>;
let bt: BtClient;
let agentDir: string;
/** Server clock: the suite's fixed instant plus one millisecond per reading, so experiments get distinct `created`. */
const fixed = clockFromEnv(process.env)().getTime();
let tick = 0;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(server.apiUrl.replace(/\/$/, '') + path, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.ok, await res.clone().text()).toBe(true);
  return (await res.json()) as T;
}

const register = (project: string, name: string, metadata?: Record<string, unknown>) =>
  api('POST', '/api/experiment/register', { project_name: project, experiment_name: name, ...(metadata ? { metadata } : {}) });

function configFor(project: string) {
  return flywheelInputSchema.parse({ project, agentDir, workOnCopy: false, outDir: join(home, 'out'), runsDir: join(home, 'runs') });
}

async function orientAndDiscover(project: string, id: string): Promise<{ ctx: OrientContext; evidence: DiscoverEvidence }> {
  const config = configFor(project);
  const ctx = await activities.orient(config, id);
  const evidence = await wholeEvidence(await activities.discover({ ctx, goal: config.goal, windowDays: config.windowDays, iteration: 1 }));
  return { ctx, evidence };
}

/** The hand-made dataset: categories in metadata, tiers in tags, one row labelled with a topic in metadata.topics. */
const GOLDEN: Row[] = [
  ...['billing', 'billing', 'billing', 'shipping', 'shipping', 'returns', 'account', 'technical'].map((category, i) => ({
    id: `golden-${i}`,
    input: { question: `question ${i}` },
    expected: { category },
    metadata: { category, split: i % 2 ? 'train' : 'validation', ...(i === 5 ? { topics: { Task: 'Returns & refunds' } } : {}) },
    tags: i < 2 ? ['tier:pro'] : ['tier:free'],
  })),
  { id: 'golden-esc', input: { question: 'legal' }, expected: { category: 'escalation' }, metadata: { category: 'escalation', topics: { Task: 'Complaint / legal' } }, tags: [] },
];
/** Rows of a dataset nothing names: left out when the eval files name a dataset. */
const SCRATCH: Row[] = [{ id: 'scratch-1', input: { question: 'x' }, expected: null, metadata: { category: 'billing' }, tags: ['tier:pro'] }];

/** The matching rule of src/activities/cohorts.ts, applied to the rows here. */
function expectedRows(c: CohortStats, rows: Row[]): number {
  return rows.filter((r) => {
    if (c.dimension === 'metadata') return r.metadata?.[c.key] === c.value;
    if (c.dimension === 'tag') return (r.tags ?? []).includes(c.value);
    if (c.dimension === 'topic') return r.metadata?.topics?.[c.key] === c.value;
    return false;
  }).length;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'topics-coverage-'));
  server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb'), now: () => new Date(fixed + tick++) });
  const env = btEnvFor(server.btEnv(), home);
  activities = createActivities({ btEnv: env, appUrl: server.appUrl, clock: () => new Date(fixed) });
  bt = new BtClient({ env, cwd: home });
  // An agent directory whose eval file reads one named dataset.
  agentDir = join(home, 'agent');
  mkdirSync(agentDir, { recursive: true });
  writeFileSync(join(agentDir, 'eval_support.ts'), "import { initDataset } from 'braintrust';\nconst data = initDataset({ project: 'p', dataset: 'support-golden' });\n");
  writeFileSync(join(agentDir, 'AGENTS.md'), 'Primary score: answer_quality\n');

  const data = await generateAtFixedClock({ outDir: join(home, 'sync'), projectName: TOPICS, variant: 'defective', traces: 800, seed: 42 });
  await server.seedFromSyncDir(data.gen.dir, { projectName: TOPICS });
  // The same traffic in a project where no Topics automation ever ran: no facets, no classifications.
  const plainDir = join(home, 'sync-plain');
  const plain = await generateAtFixedClock({ outDir: plainDir, projectName: PLAIN, variant: 'defective', traces: 800, seed: 42 });
  const file = join(plain.gen.dir, 'data', 'part-000001.jsonl');
  const stripped = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const { facets: _f, classifications: _c, ...rest } = JSON.parse(l) as Row;
    return JSON.stringify(rest);
  });
  writeFileSync(file, stripped.join('\n') + '\n');
  await server.seedFromSyncDir(plain.gen.dir, { projectName: PLAIN });

  await bt.datasetsCreate(TOPICS, 'support-golden', { rows: GOLDEN as never });
  await bt.datasetsCreate(TOPICS, 'scratch', { rows: SCRATCH as never });
  await bt.datasetsCreate(PLAIN, 'plain-golden', { rows: GOLDEN as never });
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('coverage against the datasets the project evaluates with', () => {
  let run: { ctx: OrientContext; evidence: DiscoverEvidence };
  beforeAll(async () => {
    run = await orientAndDiscover(TOPICS, 'coverage-topics');
  }, 300_000);

  it('measures only the dataset the eval file names, and says so', () => {
    expect(run.evidence.datasets.map((d) => d.name)).toEqual(['support-golden']);
    const d = run.evidence.datasets[0]!;
    expect(d.rows).toBe(GOLDEN.length);
    expect(d.trainRows).toBe(GOLDEN.filter((r) => r.metadata.split === 'train').length);
    expect(d.validationRows).toBe(GOLDEN.filter((r) => r.metadata.split === 'validation').length);
    expect(run.evidence.notes?.join('\n')).toMatch(/coverage measured against support-golden \(named in eval_support\.ts/);
  });

  it('counts dataset rows per cohort by metadata key, tag and topic label', () => {
    const cs = run.evidence.cohorts;
    expect(cs.length).toBeGreaterThan(5);
    for (const c of cs) {
      const want = expectedRows(c, GOLDEN);
      expect(c.datasetRows, `${c.dimension}:${c.key}=${c.value}`).toBe(want);
      expect(c.datasetShare).toBeCloseTo(want / GOLDEN.length, 9);
    }
    const billing = cs.find((c) => c.dimension === 'metadata' && c.key === 'category' && c.value === 'billing')!;
    expect(billing.datasetRows).toBe(3);
    expect(cs.find((c) => c.dimension === 'tag' && c.value === 'tier:pro')!.datasetRows).toBe(2);
    expect(cs.find((c) => c.dimension === 'topic' && c.key === 'Task' && c.value === 'Returns & refunds')!.datasetRows).toBe(1);
    // Covered categories do not read "0 eval-dataset rows".
    for (const c of cs.filter((x) => x.dimension === 'metadata' && x.key === 'category')) {
      expect(c.datasetRows, c.value).toBe(GOLDEN.filter((r) => r.metadata.category === c.value).length);
    }
  });

  it('with no dataset named, every dataset of the project counts', async () => {
    writeFileSync(join(agentDir, 'eval_support.ts'), "export {};\n");
    try {
      const r = await orientAndDiscover(TOPICS, 'coverage-all');
      expect(r.evidence.datasets.map((d) => d.name).sort()).toEqual(['scratch', 'support-golden']);
      const all = [...GOLDEN, ...SCRATCH];
      for (const c of r.evidence.cohorts) expect(c.datasetRows, `${c.dimension}:${c.key}=${c.value}`).toBe(expectedRows(c, all));
    } finally {
      writeFileSync(join(agentDir, 'eval_support.ts'), "import { initDataset } from 'braintrust';\nconst data = initDataset({ project: 'p', dataset: 'support-golden' });\n");
    }
  }, 300_000);
});

describe('a project without Topics data', () => {
  let run: { ctx: OrientContext; evidence: DiscoverEvidence };
  beforeAll(async () => {
    run = await orientAndDiscover(PLAIN, 'plain');
  }, 300_000);

  it('orient and discover say there is no Topics automation data', () => {
    expect(run.ctx.topicFacets).toEqual([]);
    expect(run.ctx.notes.join('\n')).toMatch(/No Topics automation data/);
    expect(run.evidence.notes?.join('\n')).toMatch(/no Topics automation data/);
  });

  it('still has metadata and tag cohorts, with their dataset coverage', () => {
    const cs = run.evidence.cohorts;
    expect(cs.some((c) => c.dimension === 'topic' || c.dimension === 'facet')).toBe(false);
    expect(cs.some((c) => c.dimension === 'metadata' && c.key === 'category' && c.value === 'escalation')).toBe(true);
    expect(cs.some((c) => c.dimension === 'tag')).toBe(true);
    for (const c of cs) expect(c.datasetRows).toBe(expectedRows(c, GOLDEN));
  });
});

describe('the newest-experiment baseline skips the flywheel’s own experiments', () => {
  it('recognizes flywheel experiments by metadata, tags and name', () => {
    expect(isFlywheelExperiment({ name: 'nightly', metadata: { flywheel_run: 'smoke' } })).toBe(true);
    expect(isFlywheelExperiment({ name: 'flywheel-wf-1-i2-full-validation' })).toBe(true);
    expect(isFlywheelExperiment({ name: 'flywheel-wf-i0-baseline-all' })).toBe(true);
    expect(isFlywheelExperiment({ name: 'x', tags: ['flywheel:candidate'] })).toBe(true);
    expect(isFlywheelExperiment({ name: 'flywheel-launch-review', metadata: { owner: 'team' } })).toBe(false);
    expect(isFlywheelExperiment({ name: 'team-nightly' })).toBe(false);
  });

  it('picks the newest experiment the team made and says which it skipped', async () => {
    const config = configFor(TOPICS);
    expect((await activities.orient(config, 'baseline-none')).baseline).toBeNull();
    await register(TOPICS, 'team-nightly');
    await register(TOPICS, 'flywheel-wf-i1-smoke-train', { flywheel_run: 'smoke' });
    await register(TOPICS, 'candidate-run', { flywheel_run: 'full' });
    const ctx = await activities.orient(config, 'baseline-1');
    expect(ctx.baseline).toMatchObject({ name: 'team-nightly', chosenBy: 'latest' });
    expect(ctx.notes.join('\n')).toMatch(/Baseline experiment team-nightly: the newest experiment of the project, skipping 2 experiment\(s\) the flywheel created/);
    await register(TOPICS, 'team-weekly');
    expect((await activities.orient(config, 'baseline-2')).baseline).toMatchObject({ name: 'team-weekly', chosenBy: 'latest' });
  }, 120_000);

  it('a project with only flywheel experiments has no baseline', async () => {
    await register(PLAIN, 'flywheel-wf-i0-baseline-all', { flywheel_run: 'baseline' });
    const ctx = await activities.orient(configFor(PLAIN), 'baseline-plain');
    expect(ctx.baseline).toBeNull();
    expect(ctx.notes.join('\n')).toMatch(/only experiments the flywheel created \(1\)/);
  }, 120_000);
});
