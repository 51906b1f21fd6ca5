/**
 * The local server's fault switch (in-process only): what the real bt 0.12.0 makes of each injected fault, how
 * src/bt/errors.ts classifies it, and that the switch never weakens the server (unauthorized stays 401, no HTTP
 * route sets it, off by default).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BtClient } from '../src/bt/client.js';
import { BtError, RETRYABLE } from '../src/bt/errors.js';
import { startLocalServer, type FaultSpec, type LocalServerHandle } from '../src/local-server/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'local-server-faults-'));
let server: LocalServerHandle;
let bt: BtClient;
beforeAll(async () => {
  server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb') });
  bt = new BtClient({ env: { ...server.btEnv(), HOME: tmp, XDG_CONFIG_HOME: join(tmp, 'cfg'), PATH: process.env.PATH ?? '' }, cwd: tmp });
});
afterEach(() => {
  server.faults.clear();
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const post = (path: string, key = server.apiKey) =>
  fetch(`${server.apiUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });

/** The classified error of `bt projects list` (goes through login and GET /v1/project). */
async function projectsError(): Promise<BtError> {
  const err = await bt.projectsList().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BtError);
  return err as BtError;
}

describe('fault switch on the local server', () => {
  it('is off by default and bt works', async () => {
    expect(server.faults.active).toBeNull();
    expect(Array.isArray(await bt.projectsList())).toBe(true);
  });

  it.each<[string, FaultSpec, number, RegExp, string]>([
    ['429', { status: 429, routes: '/v1/project' }, 4, /request failed \(429 Too Many Requests\): \{"Code":"TooManyRequests"/, 'rate_limited'],
    ['503', { status: 503, routes: '/v1/project' }, 3, /request failed \(503 Service Unavailable\): \{"Code":"ServiceUnavailable"/, 'network'],
    ['500', { status: 500, routes: '/v1/project' }, 3, /request failed \(500 Internal Server Error\)/, 'network'],
    ['401 at login', { status: 401 }, 2, /API error \(401\): \{"Code":"Unauthorized"/, 'auth'],
    ['malformed JSON', { malformed: true, routes: '/v1/project' }, 1, /failed to parse response from GET \/v1\/project/, 'network'],
    ['malformed login', { malformed: true, routes: '/api/apikey/login' }, 1, /Failed to parse login response/, 'network'],
  ])('%s: bt exits %d with the service-shaped error (%s), classified %s', async (_name, spec, exit, stderr, kind) => {
    server.faults.set(spec);
    const err = await projectsError();
    expect(err.exitCode).toBe(exit);
    expect(err.stderrTail).toMatch(stderr);
    expect(err.kind).toBe(kind);
    expect(err.retryable).toBe(RETRYABLE[kind as keyof typeof RETRYABLE]);
    expect(server.faults.hits.at(-1)!.request).toMatch(/^(GET \/v1\/project|POST \/api\/apikey\/login)$/);
  });

  it('a 401 names the credentials and is not retryable', async () => {
    server.faults.set({ status: 401 });
    const err = await projectsError();
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/rejected the credentials \(HTTP 401\).*Check BRAINTRUST_API_KEY/);
  });

  it('429 and 503 carry Retry-After and the JSON error body; other statuses do not carry Retry-After', async () => {
    server.faults.set({ status: 429, retryAfterSeconds: 7 });
    let r = await post('/btql');
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('7');
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(await r.json()).toEqual({ Code: 'TooManyRequests', Message: expect.stringMatching(/Rate limit/) });
    server.faults.set({ status: 503 });
    r = await post('/btql');
    expect([r.status, r.headers.get('retry-after')]).toEqual([503, '1']);
    server.faults.set({ status: 500 });
    r = await post('/btql');
    expect([r.status, r.headers.get('retry-after')]).toEqual([500, null]);
  });

  it('count: faults that many matching requests, then switches itself off; routes: a RegExp on "METHOD /path"', async () => {
    server.faults.set({ status: 503, routes: /^POST \/btql$/, count: 2 });
    expect((await post('/version')).status).toBe(404); // POST /version: not matched, the normal answer
    expect((await post('/btql')).status).toBe(503);
    expect((await post('/btql')).status).toBe(503);
    expect(server.faults.active).toBeNull();
    expect((await post('/btql')).status).toBe(400); // the normal answer to an empty query
  });

  it('slowMs holds the normal answer back', async () => {
    server.faults.set({ slowMs: 1500, routes: '/v1/project' });
    const t0 = Date.now();
    expect(Array.isArray(await bt.projectsList())).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
  });

  it('never weakens the server: a request with a wrong key is still a 401, whatever fault is set', async () => {
    for (const spec of [{ malformed: true }, { slowMs: 10 }, { status: 503 as const }]) {
      server.faults.set(spec);
      const r = await post('/btql', 'wrong-key');
      expect(r.status).toBe(401);
      expect(await r.json()).toMatchObject({ Code: 'Unauthorized', Message: expect.stringMatching(/missing or invalid API key/) });
    }
  });

  it('has no HTTP route: nothing reachable over the port sets it', async () => {
    for (const path of ['/local/faults', '/local/fault', '/faults']) {
      const r = await post(path);
      expect(r.status).toBe(404);
    }
    expect(server.faults.active).toBeNull();
  });

  it('rejects a bad spec', () => {
    expect(() => server.faults.set({ status: 418 as never })).toThrow(/status must be one of/);
    expect(() => server.faults.set({})).toThrow(/needs status, malformed or slowMs/);
    expect(() => server.faults.set({ status: 503, malformed: true })).toThrow(/not both/);
    expect(() => server.faults.set({ status: 503, count: 0 })).toThrow(/count/);
  });
});
