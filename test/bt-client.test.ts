/**
 * Contract tests: the real bt 0.12.0 binary against a loopback stub of the Braintrust API.
 * Success parsing per command, then error classification per failure mode.
 */
import { randomUUID } from 'node:crypto';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BtClient, type BtClientOptions } from '../src/bt/client.js';
import type { BtErrorKind } from '../src/bt/errors.js';
import { packageRoot } from '../src/paths.js';
import { btFailure } from './support/bt-local.js';
import { BtStub, livePidsWith, STUB_EXPERIMENT_ID, STUB_PROJECT_ID, tempBtDirs } from './support/bt-stub.js';

let stub: BtStub;
let dirs: ReturnType<typeof tempBtDirs>;

beforeAll(async () => {
  stub = await BtStub.start();
  dirs = tempBtDirs();
});
afterAll(async () => {
  await stub.close();
  dirs.cleanup();
});
beforeEach(() => stub.reset());

function client(options: Partial<BtClientOptions> = {}, env: Record<string, string> = {}): BtClient {
  return new BtClient({ env: stub.env(dirs.home, env), cwd: dirs.cwd, ...options });
}


const logsRef = `project_logs:${STUB_PROJECT_ID}` as const;

describe('bt client: success parsing', () => {
  it('status and version need no network', async () => {
    const bt = client();
    expect(await bt.status()).toMatchObject({ org: null, project: null, source: null });
    expect(await bt.version()).toBe('0.12.0');
    expect(stub.requests).toHaveLength(0);
  });

  it('projects list logs in and lists', async () => {
    const projects = await client().projectsList();
    expect(projects).toEqual([expect.objectContaining({ id: STUB_PROJECT_ID, name: 'flywheel' })]);
    const login = stub.requestsTo('POST', '/api/apikey/login');
    expect(login).toHaveLength(1);
    expect(stub.requestsTo('GET', '/v1/project')[0]!.query.get('org_name')).toBe('stub-org');
  });

  it('experiments list and view', async () => {
    const bt = client();
    const list = await bt.experimentsList('flywheel');
    expect(list.map((e) => e.id)).toEqual([STUB_EXPERIMENT_ID]);
    const one = await bt.experimentsView('flywheel', 'baseline-1');
    expect(one).toMatchObject({ name: 'baseline-1', tags: ['nightly'], metadata: { model: 'x' } });
  });

  it('sql sends the query under strict lint and keeps unknown keys', async () => {
    stub.on('POST', '/btql', {
      body: { data: [{ id: 'r1', n: 2 }], schema: { type: 'array' }, cursor: 'c1', extra_top_level: true },
    });
    const r = await client().sql("SELECT id FROM experiment('e') -- it's fine");
    expect(r.data).toEqual([{ id: 'r1', n: 2 }]);
    expect(r.cursor).toBe('c1');
    expect((r as Record<string, unknown>).extra_top_level).toBe(true);
    const body = stub.requestsTo('POST', '/btql')[0]!.body as Record<string, unknown>;
    expect(body).toMatchObject({ query: "SELECT id FROM experiment('e') -- it's fine", lint_mode: 'strict', strict_lint_mode: true });
  });

  it('sql: forceIgnoreLinter, a query that starts with "-", and a huge query through stdin', async () => {
    const bt = client();
    await bt.sql('-- leading comment\nSELECT 1', { forceIgnoreLinter: true });
    const first = stub.requestsTo('POST', '/btql')[0]!.body as Record<string, unknown>;
    expect(first).toMatchObject({ query: '-- leading comment\nSELECT 1', lint_mode: 'default', strict_lint_mode: false });
    const huge = `SELECT '${'x'.repeat(200_000)}'`;
    await bt.sql(huge);
    expect((stub.requestsTo('POST', '/btql')[1]!.body as { query: string }).query).toBe(huge);
  });

  it('sql validates rows with a row schema', async () => {
    const { z } = await import('zod');
    const rows = await client().sql('SELECT 1', { rowSchema: z.object({ id: z.string() }) });
    expect(rows.data.map((r) => r.id)).toEqual(['r1', 'r2']);
    stub.on('POST', '/btql', { body: { data: [{ id: 5 }], schema: {} } });
    const err = await btFailure(client().sql('SELECT 1', { rowSchema: z.object({ id: z.string() }) }));
    expect(err.kind).toBe('schema');
  });

  it('view logs, trace and span', async () => {
    const bt = client();
    const logs = await bt.viewLogs({ projectId: STUB_PROJECT_ID, window: '3650d', limit: 10, filter: "metadata.kind = 'x'" });
    expect(logs.items[0]).toMatchObject({ root_span_id: 's1', row: { id: 'r1' } });
    expect(logs.paging.has_more).toBe(false);
    const q = (stub.requestsTo('POST', '/btql')[0]!.body as { query: string }).query;
    expect(q).toContain("filter: (created >= NOW() - INTERVAL 315360000 SECOND) AND (metadata.kind = 'x')");
    expect(q).toContain('limit: 10');

    const trace = await bt.viewTrace({ objectRef: logsRef, traceId: 's1' });
    expect(trace.items.map((r) => r.id)).toEqual(['r1', 'r2']);
    const span = await bt.viewSpan({ objectRef: logsRef, id: 'r2' });
    expect(span.item).toMatchObject({ id: 'r2', span_parents: ['s1'] });
    const missing = await bt.viewSpan({ objectRef: logsRef, id: 'nope' });
    expect(missing.item).toBeNull();
    await expect(bt.viewLogs({})).rejects.toMatchObject({ kind: 'usage' });
  });

  it('datasets create, update (upsert through stdin), view and list', async () => {
    const bt = client();
    const created = await bt.datasetsCreate('flywheel', 'golden', {
      description: 'golden set',
      rows: [{ id: 'a', input: { q: "it's" }, expected: 'A', metadata: { k: 1 }, tags: ['t'] }],
    });
    expect(created).toMatchObject({ created_dataset: true, uploaded: 1, mode: 'create', dataset: { name: 'golden' } });
    expect(stub.requestsTo('POST', '/v1/dataset')[0]!.body).toMatchObject({ name: 'golden', description: 'golden set' });

    const updated = await bt.datasetsUpdate('flywheel', 'golden', {
      rows: [
        { id: 'a', input: { q: 'new' } },
        { id: 'b', input: 2 },
      ],
    });
    expect(updated).toMatchObject({ mode: 'update', dataset: { id: created.dataset.id } });
    const upload = stub.requestsTo('POST', '/logs3').at(-1)!.body as { rows: Record<string, unknown>[] };
    expect(upload.rows.map((r) => [r.id, r._is_merge])).toEqual([
      ['a', true],
      ['b', true],
    ]);

    const view = await bt.datasetsView('flywheel', 'golden', { full: true, limit: 5 });
    expect(view.preview_length).toBe(-1);
    expect(Object.fromEntries(view.rows.map((r) => [r.id, r.input]))).toEqual({ a: { q: 'new' }, b: 2 });
    expect((await bt.datasetsList('flywheel')).map((d) => d.name)).toEqual(['golden']);

    const empty = await bt.datasetsCreate('flywheel', 'empty');
    expect(empty.uploaded).toBe(0);
    await expect(bt.datasetsUpdate('flywheel', 'golden', { rows: [] })).rejects.toMatchObject({ kind: 'usage' });
  });

  it('datasets update with idField', async () => {
    const bt = client();
    await bt.datasetsCreate('flywheel', 'by-case');
    await bt.datasetsUpdate('flywheel', 'by-case', { rows: [{ case_id: 'c-1', input: 1 }], idField: 'case_id' });
    const upload = stub.requestsTo('POST', '/logs3').at(-1)!.body as { rows: Record<string, unknown>[] };
    expect(upload.rows[0]).toMatchObject({ id: 'c-1', input: 1 });
    expect(upload.rows[0]).not.toHaveProperty('case_id');
  });

  it('functions list, view and invoke (input through stdin)', async () => {
    const bt = client();
    const fns = await bt.functionsList('flywheel', { type: 'scorer' });
    expect(fns.map((f) => f.slug)).toEqual(['exact']);
    expect((stub.requestsTo('POST', '/btql')[0]!.body as { query: string }).query).toContain("function_type = 'scorer'");
    expect(await bt.functionsView('flywheel', 'exact')).toMatchObject({ slug: 'exact', function_type: 'scorer' });
    expect(await bt.functionsInvoke('flywheel', 'exact', { a: [1, "it's"] })).toEqual({ echoed: { a: [1, "it's"] } });
    expect(stub.requestsTo('POST', '/function/invoke')[0]!.body).toMatchObject({ slug: 'exact', project_name: 'flywheel' });
  });

  it('sync pull writes NDJSON under root', async () => {
    const r = await client().syncPull(logsRef, { root: 'sync-out', traces: 5, window: '3650d', fresh: true });
    expect(r).toMatchObject({ status: 'completed', items_done: 2, scope: 'traces' });
    expect(r.spec_dir).toContain('project_logs_');
  });

  it('heartbeats while bt runs', async () => {
    stub.on('POST', '/btql', { body: { data: [], schema: {} }, delayMs: 700 });
    const beats: string[] = [];
    await client({ heartbeatIntervalMs: 100, onHeartbeat: (d) => beats.push(d.command) }).sql('SELECT 1');
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(beats[0]).toBe('bt sql');
  });

  it('never passes an empty API key (it would mean "no credentials" and beat --env-file)', async () => {
    const err = await btFailure(client({}, { BRAINTRUST_API_KEY: '' }).projectsList());
    expect(err.kind).toBe('no_credentials');
    expect(stub.requests).toHaveLength(0);
  });
});

describe('bt client: functions push', () => {
  beforeAll(() => {
    // push runs the file through tsx, which must resolve `braintrust`.
    symlinkSync(join(packageRoot, 'node_modules'), join(dirs.cwd, 'node_modules'), 'dir');
    writeFileSync(
      join(dirs.cwd, 'scorer.ts'),
      `import braintrust from 'braintrust';
const project = braintrust.projects.create({ name: 'flywheel' });
project.scorers.create({
  name: 'Exact push',
  slug: 'exact-push',
  handler: ({ output, expected }: { output: unknown; expected: unknown }) => (output === expected ? 1 : 0),
});
`,
    );
  });

  it('bundles, uploads and inserts; the function is then listed', async () => {
    const bt = client();
    const r = await bt.functionsPush(undefined, ['scorer.ts'], { ifExists: 'replace' });
    expect(r).toMatchObject({ status: 'success', uploaded_files: 1, failed_files: 0 });
    expect(stub.requestsTo('POST', '/insert-functions')[0]!.body).toMatchObject({
      functions: [{ slug: 'exact-push', function_type: 'scorer', if_exists: 'replace', project_id: STUB_PROJECT_ID }],
    });
    expect((await bt.functionsList('flywheel')).map((f) => f.slug)).toContain('exact-push');
  });

  it('a failed push throws and keeps bt\'s JSON summary on the error', async () => {
    stub.on('POST', '/insert-functions', { status: 500, body: 'insert exploded' });
    const err = await btFailure(client().functionsPush('flywheel', ['scorer.ts']));
    expect(err).toMatchObject({ kind: 'network', retryable: true, exitCode: 1 });
    expect(err.message).toContain('insert exploded');
    expect(err.output).toMatchObject({ status: 'failed', failed_files: 1 });
  });
});

describe('bt client: error classification', () => {
  const cases: { name: string; route: [string, string]; status: number; body: unknown; kind: BtErrorKind; exit: number; retryable: boolean }[] = [
    { name: '401', route: ['POST', '/btql'], status: 401, body: { Message: 'bad key' }, kind: 'auth', exit: 2, retryable: false },
    { name: '403 at login', route: ['POST', '/api/apikey/login'], status: 403, body: 'forbidden', kind: 'auth', exit: 2, retryable: false },
    {
      name: '400 bad SQL',
      route: ['POST', '/btql'],
      status: 400,
      body: { Code: 'BadRequest', Message: 'Parse error: unexpected token near FROM' },
      kind: 'bad_query',
      exit: 4,
      retryable: false,
    },
    {
      name: '400 strict lint block',
      route: ['POST', '/btql'],
      status: 400,
      body: { Code: 'BadRequest', Message: 'Query blocked by strict lint mode due to: No filters available for segment elimination.' },
      kind: 'bad_query',
      exit: 4,
      retryable: false,
    },
    { name: '429', route: ['POST', '/btql'], status: 429, body: { Message: 'slow down' }, kind: 'rate_limited', exit: 4, retryable: true },
    { name: '500', route: ['POST', '/btql'], status: 500, body: 'internal', kind: 'network', exit: 3, retryable: true },
    { name: '502 at login', route: ['POST', '/api/apikey/login'], status: 502, body: 'bad gateway', kind: 'network', exit: 3, retryable: true },
    { name: 'missing schema', route: ['POST', '/btql'], status: 200, body: { data: [] }, kind: 'schema', exit: 1, retryable: false },
  ];

  it.each(cases)('$name → $kind', async (c) => {
    stub.on(c.route[0], c.route[1], { status: c.status, body: c.body });
    const err = await btFailure(client().sql('SELECT 1'));
    expect({ kind: err.kind, exit: err.exitCode, retryable: err.retryable }).toEqual({ kind: c.kind, exit: c.exit, retryable: c.retryable });
    expect(err.message).toMatch(/^bt sql failed: .+\. .+\.$/s);
    expect(err.command.slice(1)).toEqual(['sql', '--json', '--no-input', '-q', '--', 'SELECT 1']);
    expect(err.stderrTail.length).toBeLessThanOrEqual(2000);
    expect(err.stderrTail).not.toMatch(/\u001b/);
  });

  it('lint block message names the rule', async () => {
    stub.on('POST', '/btql', {
      status: 400,
      body: { Message: 'Query blocked by strict lint mode due to: No filters available for segment elimination.' },
    });
    const err = await btFailure(client().sql("SELECT * FROM project_logs('p')"));
    expect(err.message).toContain('No filters available for segment elimination');
  });

  it('a huge error body stays bounded', async () => {
    stub.on('POST', '/btql', { status: 400, body: { Message: 'y'.repeat(100_000) } });
    const err = await btFailure(client().sql('SELECT 1'));
    expect(err.kind).toBe('bad_query');
    expect(err.message.length).toBeLessThan(700);
    expect(err.stderrTail.length).toBeLessThanOrEqual(2000);
  });

  it('not found (exit 4)', async () => {
    const err = await btFailure(client().experimentsView('flywheel', 'nope'));
    expect(err).toMatchObject({ kind: 'not_found', exitCode: 4, retryable: false });
    const err2 = await btFailure(client().datasetsList('no-such-project'));
    expect(err2.kind).toBe('not_found');
  });

  it('unknown org (exit 4) is not_found', async () => {
    const err = await btFailure(client({}, { BRAINTRUST_ORG_NAME: 'other-org' }).projectsList());
    expect(err.kind).toBe('not_found');
  });

  it('invalid dataset rows are usage errors', async () => {
    const bt = client();
    await bt.datasetsCreate('flywheel', 'strict');
    const err = await btFailure(bt.datasetsUpdate('flywheel', 'strict', { rows: [{ id: 'a', output: 'not allowed' }] }));
    expect(err.kind).toBe('usage');
  });

  it('a bad flag is a usage error (exit 2 without 401/403)', async () => {
    const err = await btFailure(client().viewLogs({ projectId: STUB_PROJECT_ID, listMode: 'bogus' as 'spans' }));
    expect(err).toMatchObject({ kind: 'usage', exitCode: 2 });
  });

  it('connection refused is network', async () => {
    const url = 'http://127.0.0.1:9';
    const err = await btFailure(client({}, { BRAINTRUST_APP_URL: url, BRAINTRUST_API_URL: url }).projectsList());
    expect(err).toMatchObject({ kind: 'network', exitCode: 3, retryable: true });
  });

  it('no credentials', async () => {
    const env = stub.env(dirs.home);
    delete (env as Record<string, string | undefined>).BRAINTRUST_API_KEY;
    const err = await btFailure(new BtClient({ env, cwd: dirs.cwd }).projectsList());
    expect(err).toMatchObject({ kind: 'no_credentials', exitCode: 1, retryable: false });
  });

  it('missing binary', async () => {
    const err = await btFailure(client({ btPath: '/nonexistent/bin/bt' }).projectsList());
    expect(err).toMatchObject({ kind: 'missing_binary', retryable: false });
    expect(err.message).toMatch(/FLYWHEEL_BT_PATH/);
  });

  it('a 2xx answer that is not JSON at all is a retryable transport fault, not a schema mismatch', async () => {
    stub.on('POST', '/function/invoke', { body: 'plain text, not JSON' });
    // Cut off or garbled on the way (a proxy): worth a retry; JSON of the wrong shape stays a permanent schema error
    // (test/bt-errors.test.ts).
    const err = await btFailure(client().functionsInvoke('flywheel', 'exact', {}));
    expect(err).toMatchObject({ kind: 'network', retryable: true });
  });

  it('our timeout kills bt before its own 30 s limit, and nothing is left running', async () => {
    const marker = `timeout-${randomUUID()}`;
    stub.on('POST', '/btql', { body: { data: [], schema: {} }, delayMs: 10_000 });
    const started = Date.now();
    const err = await btFailure(client({ timeoutMs: 3_000, killGraceMs: 500 }).sql(`SELECT '${marker}'`));
    expect(err).toMatchObject({ kind: 'timeout', retryable: true });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(livePidsWith(marker)).toEqual([]);
  });

  it('cancellation through the signal kills bt, and nothing is left running', async () => {
    const marker = `cancel-${randomUUID()}`;
    stub.on('POST', '/btql', { body: { data: [], schema: {} }, delayMs: 10_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1_000);
    const started = Date.now();
    const err = await btFailure(client({ killGraceMs: 500 }).sql(`SELECT '${marker}'`, { signal: ac.signal }));
    expect(err).toMatchObject({ kind: 'cancelled' });
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(livePidsWith(marker)).toEqual([]);
  });

  it('an already-aborted signal never spawns', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await btFailure(client().projectsList({ signal: ac.signal }));
    expect(err.kind).toBe('cancelled');
    expect(stub.requests).toHaveLength(0);
  });
});
