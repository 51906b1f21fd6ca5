/**
 * bt reads the whole system trust store before its first request (~20 ms of a 45 ms `bt sql` on the CI machine).
 * Against plain-http endpoints (the local server) API-only commands get an empty one; everything that runs the
 * user's code, and everything against https, keeps the environment it was given.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBt, withoutUnusedTrustStore } from '../src/bt/run.js';

const local = {
  PATH: '/usr/bin:/bin',
  BRAINTRUST_API_URL: 'http://127.0.0.1:8000',
  BRAINTRUST_APP_URL: 'http://127.0.0.1:8000',
  SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
  SSL_CERT_DIR: '/etc/ssl/certs',
};
const emptied = (env: Record<string, string>) => env.SSL_CERT_FILE === '/dev/null' && !('SSL_CERT_DIR' in env);

describe('the trust store bt is given', () => {
  it.each([
    ['sql against the local server', local, ['sql', '--json', 'SELECT 1'], true],
    ['datasets list', local, ['datasets', 'list', '--json'], true],
    ['view trace', local, ['view', 'trace', '--json'], true],
    ['functions view', local, ['functions', 'view', '--json'], true],
    ['HTTP:// in capitals', { ...local, BRAINTRUST_API_URL: 'HTTP://localhost:1' }, ['sql'], true],
    ['eval runs the user code (it may call a provider over https)', local, ['eval', '--jsonl'], false],
    ['functions push runs the user code too', local, ['functions', 'push'], false],
    ['an unknown command', local, ['frobnicate'], false],
    ['the hosted service (https)', { ...local, BRAINTRUST_API_URL: 'https://api.braintrust.dev', BRAINTRUST_APP_URL: 'https://www.braintrust.dev' }, ['sql'], false],
    ['API on http, app on https', { ...local, BRAINTRUST_APP_URL: 'https://www.braintrust.dev' }, ['sql'], false],
    ['no endpoint in the environment (bt picks it from its profile)', { PATH: '/bin', SSL_CERT_DIR: '/etc/ssl/certs' }, ['sql'], false],
    ['a proxy is set (it may speak https)', { ...local, HTTPS_PROXY: 'https://proxy.internal:3128' }, ['sql'], false],
    ['a lowercase proxy is set', { ...local, all_proxy: 'socks5://proxy:1080' }, ['sql'], false],
  ] as const)('%s', (_name, env, args, empty) => {
    const given = { ...(env as Record<string, string>) };
    const out = withoutUnusedTrustStore(given, args);
    expect(emptied(out)).toBe(empty);
    if (!empty) expect(out).toEqual(env);
    // Nothing else changes, and the caller's object is not touched.
    const { SSL_CERT_FILE: _f, SSL_CERT_DIR: _d, ...rest } = env as Record<string, string>;
    const { SSL_CERT_FILE: _f2, SSL_CERT_DIR: _d2, ...restOut } = out;
    expect(restOut).toEqual(rest);
    expect(given).toEqual(env);
  });

  const tmp = mkdtempSync(join(tmpdir(), 'bt-trust-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('runBt starts each command with its own environment', async () => {
    const fake = join(tmp, 'bt');
    writeFileSync(fake, '#!/bin/sh\necho "$1 file=${SSL_CERT_FILE-unset} dir=${SSL_CERT_DIR-unset}"\n');
    chmodSync(fake, 0o755);
    const ctx = { btPath: fake, env: local, heartbeatIntervalMs: 10_000, killGraceMs: 1_000 };
    const sql = await runBt(ctx, ['sql'], { timeoutMs: 10_000, commandWords: 1 });
    const evalRun = await runBt(ctx, ['eval'], { timeoutMs: 10_000, commandWords: 1 });
    expect(sql.stdout.trim()).toBe('sql file=/dev/null dir=unset');
    expect(evalRun.stdout.trim()).toBe('eval file=/etc/ssl/certs/ca-certificates.crt dir=/etc/ssl/certs');
  });
});
