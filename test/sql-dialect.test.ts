/**
 * The SQL dialect table (src/local-server/btql/dialect.ts) as contract tests: every example goes
 * through the REAL `bt sql` (strict lint, as the flywheel sends it) to the local server. Documented
 * constructs must succeed with the right rows; refused ones must fail with exit 4, an HTTP 400 and a
 * message naming the construct. docs/sql-dialect.md must carry exactly the generated table.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';
import { DIALECT, DIALECT_DOC_BEGIN, DIALECT_DOC_END, type DialectRow, renderDialectTable } from '../src/local-server/btql/dialect.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { fixtureRows } from './support/local-server-fixture.js';
import { apiClient, makeBtRunner, type BtRunner } from './support/local-server-bt.js';

const W = 'created >= NOW() - INTERVAL 30 day';

describe('docs/sql-dialect.md', () => {
  it('carries exactly the table generated from dialect.ts (npm run gen:sql-dialect)', () => {
    const text = readFileSync(join(packageRoot, 'docs', 'sql-dialect.md'), 'utf8');
    const a = text.indexOf(DIALECT_DOC_BEGIN);
    const b = text.indexOf(DIALECT_DOC_END);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThan(a);
    expect(text.slice(a + DIALECT_DOC_BEGIN.length, b)).toBe(`\n${renderDialectTable()}`);
  });

  it('every row is complete: refused rows name the construct and say what to use instead', () => {
    expect(new Set(DIALECT.map((r) => r.id)).size).toBe(DIALECT.length);
    for (const r of DIALECT) {
      expect(r.source, r.id).toMatch(/https:\/\//);
      expect(r.example, r.id).toMatch(/\{P\}|project_logs/);
      if (r.local !== 'supported') {
        expect(r.names, r.id).toBeTruthy();
        expect(r.instead, r.id).toBeTruthy();
      }
      // A construct the service does not document is never run locally.
      if (r.documented === 'no' || r.documented === 'unclear') expect(r.local, r.id).toBe('rejected');
    }
  });
});

let home: string;
let server: LocalServerHandle;
let bt: BtRunner;
let P: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'sql-dialect-'));
  server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
  const api = apiClient(server.apiUrl, server.apiKey);
  P = (await api<{ id: string }>('POST', '/v1/project', { name: 'dialect' })).id;
  await api('POST', '/logs3', { rows: fixtureRows({ projectId: P, now: Date.now() }) });
  bt = makeBtRunner(server.btEnv(), join(home, 'bt'));
});

afterAll(async () => {
  await server?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

const queryOf = (r: DialectRow) => r.example.replaceAll('{P}', P).replaceAll('{W}', W);

/** Row checks for the documented constructs, from the fixture (test/support/local-server-fixture.ts). */
const CHECKS: Record<string, (data: Array<Record<string, unknown>>) => void> = {
  // Roots: helpful = i % 2 (6 of 12), an error on i % 4 === 3 (3 of 12).
  ternary: (d) => expect(d).toEqual([{ helpful: 6, errors: 3 }]),
  count_distinct: (d) => expect(d).toEqual([{ traces: 12 }]),
  any_value: (d) => {
    expect(d.map((r) => r.model).sort()).toEqual(['gpt-large', 'gpt-small']);
    for (const r of d) expect(String(r.example)).toMatch(/^trace-\d+$/);
  },
  // Even traces are tagged ['prod', 'web'].
  in_array: (d) => expect(d.map((r) => r.id).sort()).toEqual(['trace-0', 'trace-10', 'trace-2', 'trace-4', 'trace-6', 'trace-8']),
  string_literal: (d) => expect(d).toEqual([{ s: "it's -- not a comment /* nor this */; still text" }]),
  quoted_identifier: (d) => expect(typeof d[0]?.rq).toBe('number'),
  pipe_includes: (d) => expect(d).toHaveLength(5),
  // Errors on i % 4 === 3: "Timeout calling tool <i>" (every word, any case, in any order).
  match: (d) => expect(d.map((r) => r.id)).toEqual(['trace-11', 'trace-3', 'trace-7']),
  // Outputs "Answer <i>: restart the router" on the roots without an error; the first 3 by id.
  search: (d) => expect(d.map((r) => r.id)).toEqual(['trace-0', 'trace-1', 'trace-10']),
};

describe('every dialect row through the real bt sql', () => {
  it('has a check for every supported construct', () => {
    expect(DIALECT.filter((r) => r.local === 'supported').map((r) => r.id).sort()).toEqual(Object.keys(CHECKS).sort());
  });

  for (const row of DIALECT) {
    if (row.local === 'supported') {
      it(`${row.id}: ${row.construct} runs`, async () => {
        const r = await bt.run(['sql', '--json', '--no-input', '-q', '--', queryOf(row)]);
        expect(r.exitCode, r.stderr).toBe(0);
        const data = (JSON.parse(r.stdout) as { data: Array<Record<string, unknown>> }).data;
        CHECKS[row.id]!(data);
      });
    } else {
      it(`${row.id}: ${row.construct} is a 400 naming it`, async () => {
        const r = await bt.run(['sql', '--json', '--no-input', '-q', '--', queryOf(row)]);
        expect(r.exitCode, r.stdout).toBe(4);
        expect(r.stderr).toContain('400');
        expect(r.stderr).toContain(row.names!);
        if (row.local === 'not-implemented') expect(r.stderr).toContain('not implemented by the local server');
        else expect(r.stderr).toMatch(/not part of Braintrust SQL|BTQL-only|refused by the local server/);
      });
    }
  }
});
