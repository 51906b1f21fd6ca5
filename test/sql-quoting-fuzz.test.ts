/**
 * The quoting contract of src/bt/sql.ts, proven on seeded random strings (quotes, backslashes,
 * newlines, NUL, unicode, `--`, `/* *\/`, `;`, LIKE wildcards), through the builders into
 * (a) the local server in-process and (b) a sample through the real `bt sql`:
 * - a quotable string read back as a literal is exactly itself; an unquotable one (backslash, NUL)
 *   is refused by the builder, never emitted;
 * - an equality filter (textEquals) on a row holding the string, narrowed by its exact check,
 *   finds exactly that row; an exact filter alone finds exactly it; a LIKE superset only returns
 *   rows its pattern describes (no string changes the query's meaning);
 * - a quotable string used as a field name reads exactly that key.
 */
import { mulberry32 } from '../examples/shared/seeded.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtClient } from '../src/bt/client.js';
import { fieldPath, isQuotable, projectLogs, SqlBuildError, sqlString, textEquals } from '../src/bt/sql.js';
import { runBtql } from '../src/local-server/btql/run.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { ingestRows } from '../src/local-server/ingest.js';
import { Store } from '../src/local-server/store.js';
import { apiClient } from './support/local-server-bt.js';
import { btEnvFor } from './support/example-window.js';

const W = 'created >= NOW() - INTERVAL 30 day';

/** The cases from the bug reports, always included. */
const FIXED = [
  'file not found: C:\\temp\\',
  "nomatch\\' OR id IS NOT NULL AND created >= NOW() - INTERVAL 7 day --",
  'a\\" OR true --',
  'C:\\new\\path',
  "it's",
  "'; DROP TABLE rows; --",
  '/* x */ -- y ; z',
  '50% of_all',
  '',
];

const PIECES = [
  "'", "''", '"', '""', '\\', "\\'", '\\"', '\\\\', '\n', '\r\n', '\t', '\0', '--', '/*', '*/', ';', '%', '_', '.', '$',
  ' ', 'OR 1=1', ' AND ', 'é', '日本語', '🙂', '\u202e', '\u00a0', 'a', 'Z', '0', '9', '?', ':', '|', '`', '[', ']', '\\n',
];


function randomStrings(seed: number, n: number): string[] {
  const rnd = mulberry32(seed);
  const out = new Set(FIXED);
  while (out.size < n) {
    let s = '';
    const len = Math.floor(rnd() * 10);
    for (let i = 0; i < len; i++) {
      if (rnd() < 0.15) {
        // A random BMP or astral code point outside the surrogate range.
        let cp = Math.floor(rnd() * 0x2ffff) + 1;
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
        s += String.fromCodePoint(cp);
      } else s += PIECES[Math.floor(rnd() * PIECES.length)]!;
    }
    out.add(s);
  }
  return [...out];
}

/** What a LIKE pattern (no escape character) accepts, as a JS regex: `_` one character, `%` any run. */
function likeRegex(pattern: string): RegExp {
  let re = '';
  for (const ch of pattern) re += ch === '_' ? '.' : ch === '%' ? '.*' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${re}$`, 'su');
}

/** A field name that is not itself a key of the row ('v' is the holder key; names are checked against it). */
const holderKey = 'v';

function rowsFor(projectId: string, strings: string[], now: number): Array<Record<string, unknown>> {
  return strings.map((s, i) => {
    const metadata: Record<string, unknown> = { [holderKey]: s };
    if (s !== holderKey && s !== '') metadata[s] = `key-${i}`;
    return { id: `r${i}`, span_id: `r${i}`, root_span_id: `r${i}`, project_id: projectId, log_id: 'g', created: new Date(now - i * 1000).toISOString(), input: { i }, metadata };
  });
}

type Run = (query: string) => Promise<Array<Record<string, unknown>>>;

/** Checks one string against a server; returns nothing, throws on any broken promise. */
async function checkString(run: Run, projectId: string, strings: string[], i: number): Promise<void> {
  const s = strings[i]!;
  const src = projectLogs(projectId);
  const holder = fieldPath('metadata', holderKey);
  const label = JSON.stringify(s);

  // 1. The literal reads back exactly (or is refused, never emitted).
  if (isQuotable(s)) {
    expect(await run(`SELECT ${sqlString(s)} AS lit FROM ${src} WHERE id = ${sqlString(`r${i}`)}`), label).toEqual([{ lit: s }]);
  } else {
    expect(() => sqlString(s), label).toThrow(SqlBuildError);
  }

  // 2. Equality on the row holding it.
  const m = textEquals(holder, s);
  expect(m.sql.includes('\\') || m.sql.includes('\0'), label).toBe(false);
  const got = await run(`SELECT id, ${holder} AS v FROM ${src} WHERE ${W} AND ${m.sql}`);
  const holding = strings.flatMap((x, j) => (x === s ? [`r${j}`] : []));
  expect(got.filter((r) => m.matches(String(r.v))).map((r) => r.id).sort(), label).toEqual(holding);
  if (m.exact) expect(got.map((r) => r.id).sort(), label).toEqual(holding);
  else {
    // A superset, but only of values its pattern describes: the string did not change the query's meaning.
    const pattern = m.sql.slice(`${holder} LIKE '`.length, -1).replaceAll("''", "'");
    const re = likeRegex(pattern);
    for (const r of got) expect(re.test(String(r.v)), `${label} returned ${JSON.stringify(r.v)}`).toBe(true);
  }

  // 3. As a field name: reads exactly that key.
  if (s !== '' && s !== holderKey) {
    if (isQuotable(s)) {
      const col = fieldPath('metadata', s);
      expect(await run(`SELECT ${col} AS k FROM ${src} WHERE id = ${sqlString(`r${i}`)}`), label).toEqual([{ k: `key-${i}` }]);
      expect((await run(`SELECT id FROM ${src} WHERE ${W} AND ${col} = ${sqlString(`key-${i}`)}`)).map((r) => r.id), label).toEqual([`r${i}`]);
    } else expect(() => fieldPath('metadata', s), label).toThrow(SqlBuildError);
  }
}

describe('quoting contract: local server in-process (a few hundred strings)', () => {
  const strings = randomStrings(20260501, 300);
  let store: Store;
  let P: string;

  beforeAll(async () => {
    store = await Store.open(':memory:');
    P = (await store.ensureProject('fuzz')).id;
    await ingestRows(store, rowsFor(P, strings, Date.now()));
  });
  afterAll(async () => {
    await store?.close();
  });

  it('the generator covers the hard characters', () => {
    for (const c of ["'", '"', '\\', '\n', '\0', '--', '/*', ';', '🙂']) expect(strings.some((s) => s.includes(c)), c).toBe(true);
    expect(strings.filter((s) => !isQuotable(s)).length).toBeGreaterThan(30);
    expect(strings.filter((s) => isQuotable(s)).length).toBeGreaterThan(30);
  });

  it('every string round-trips and no string changes a query', async () => {
    const run: Run = async (query) => (await runBtql(store, { query, lint_mode: 'strict', strict_lint_mode: true })).data;
    for (let i = 0; i < strings.length; i++) await checkString(run, P, strings, i);
  }, 120_000);
});

describe('quoting contract: through the real bt sql (a sample)', () => {
  const all = randomStrings(20260501, 300);
  // The fixed cases plus a spread of the random ones: ~30 bt calls per query kind.
  const strings = [...all.slice(0, FIXED.length), ...all.slice(FIXED.length).filter((_, i) => i % 14 === 0)].slice(0, 24);
  let home: string;
  let server: LocalServerHandle;
  let bt: BtClient;
  let P: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'sql-fuzz-'));
    server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
    const api = apiClient(server.apiUrl, server.apiKey);
    P = (await api<{ id: string }>('POST', '/v1/project', { name: 'fuzz' })).id;
    await api('POST', '/logs3', { rows: rowsFor(P, strings, Date.now()) });
    bt = new BtClient({ env: btEnvFor(server.btEnv(), home), cwd: home });
  });
  afterAll(async () => {
    await server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('every sampled string round-trips through bt and the server, and none changes a query', async () => {
    const run: Run = async (query) => (await bt.sql(query)).data as Array<Record<string, unknown>>;
    const started = Date.now();
    for (let i = 0; i < strings.length; i++) await checkString(run, P, strings, i);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);
});
