/**
 * The local server answers malformed or hostile HTTP with a 4xx naming the problem, never a 500 or a crash,
 * and stays up: a gzip bomb, bad gzip, bad %-escapes, deep nesting, non-object JSON, a slow client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'local-server-hostile-'));
let server: LocalServerHandle;
beforeAll(async () => {
  server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb'), apiKey: 'k' });
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function post(path: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const r = await fetch(`${server.apiUrl}${path}`, { method: 'POST', body, headers: { authorization: 'Bearer k', 'content-type': 'application/json', ...headers } });
  return { status: r.status, text: await r.text() };
}

describe('hostile HTTP to the local server', () => {
  it('a gzip bomb (300 MB of zeros inflating from a small body) is a 413, refused while inflating', async () => {
    const bomb = gzipSync(Buffer.alloc(300 * 1024 * 1024, 0x20), { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const r = await post('/btql', bomb, { 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
    expect(r.text).toMatch(/too large once decompressed/);
  });
  it.each([
    ['invalid gzip', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }, /invalid gzip/],
    ['a JSON array', '[1,2,3]', {}, /JSON object/],
    ['truncated JSON', '{"query": "SELECT', {}, /JSON object/],
    ['JSON nested 100k deep', `{"query":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, {}, /./],
  ] as const)('%s is a 400', async (_name, body, headers, says) => {
    const r = await post('/btql', body as string | Buffer, headers as Record<string, string>);
    expect(r.status).toBe(400);
    expect(r.text).toMatch(says);
  });
  it('a malformed %-escape in the path is a 4xx, not a 500', async () => {
    const r = await fetch(`${server.apiUrl}/v1/experiment/%E0%A4%A/summarize`, { headers: { authorization: 'Bearer k' } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });
  it('a client that never finishes its headers is cut off, and the server still answers others', async () => {
    const port = Number(new URL(server.apiUrl).port);
    const closed = await new Promise<number>((resolve) => {
      const started = Date.now();
      const sock = connect(port, '127.0.0.1', () => sock.write('GET /version HTTP/1.1\r\nHost: x\r\n'));
      sock.on('data', () => undefined);
      sock.on('close', () => resolve(Date.now() - started));
      sock.on('error', () => undefined);
    });
    expect(closed).toBeLessThan(60_000);
    const ok = await fetch(`${server.apiUrl}/version`, { headers: { authorization: 'Bearer k' } });
    expect(ok.status).toBe(200);
  }, 90_000);
});
