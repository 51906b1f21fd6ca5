import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, describeTarget, resolveRemoteTarget, resolveTemporalTarget } from '../src/temporal/connection.js';
import { describeTemporal, temporalAddress } from './support/temporal-harness.js';

const SECRET = 'sk-cloud-secret-do-not-print';
const missingFile = '/nonexistent/temporal.toml';
// Created at load time: the it.each tables below are built during collection.
const dir = mkdtempSync(join(tmpdir(), 'flywheel-envconfig-'));
const configFile = join(dir, 'temporal.toml');

beforeAll(() => {
  writeFileSync(
    configFile,
    [
      '[profile.default]',
      'address = "file-default.example:7233"',
      'namespace = "from-file"',
      '',
      '[profile.cloud]',
      'address = "us-east-1.aws.api.temporal.io:7233"',
      'namespace = "flywheel.a1b2c"',
      `api_key = "${SECRET}"`,
      '',
      '[profile.noaddr]',
      'namespace = "x"',
      '',
    ].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveTemporalTarget: a named cluster never starts anything', () => {
  it('uses TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE from the environment', async () => {
    const home = join(dir, 'home-env');
    const target = await resolveTemporalTarget({
      home,
      env: { TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'prod', TEMPORAL_CONFIG_FILE: missingFile },
    });
    expect(target).toMatchObject({ embedded: false, address: 'temporal.internal:7233', namespace: 'prod' });
    expect(target.connectionOptions).toEqual({ address: 'temporal.internal:7233' });
    expect(target.uiUrl).toBeUndefined();
    expect(existsSync(home)).toBe(false); // no dev server state was created
  });

  it('loads a toml profile with an API key: TLS on, key redacted', () => {
    const target = resolveRemoteTarget({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' }, {})!;
    expect(target).toMatchObject({ embedded: false, address: 'us-east-1.aws.api.temporal.io:7233', namespace: 'flywheel.a1b2c' });
    expect(target.connectionOptions.tls).toBe(true);
    expect(target.connectionOptions.apiKey).toBe(SECRET);
    const text = describeTarget(target);
    expect(text).not.toContain(SECRET);
    expect(text).toContain('apiKey=<redacted>');
    expect(text).toContain('tls=on');
    expect(text).toContain('config profile "cloud"');
  });

  it.each([
    {
      name: 'default profile from the file',
      env: { TEMPORAL_CONFIG_FILE: configFile },
      flags: {},
      expected: { address: 'file-default.example:7233', namespace: 'from-file', tls: undefined },
    },
    {
      name: 'env overrides the file',
      env: { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_ADDRESS: 'env.example:7233' },
      flags: {},
      expected: { address: 'env.example:7233', namespace: 'from-file', tls: undefined },
    },
    {
      name: 'flags override env and file',
      env: { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_ADDRESS: 'env.example:7233', TEMPORAL_NAMESPACE: 'env-ns' },
      flags: { address: 'flag.example:7233', namespace: 'flag-ns' },
      expected: { address: 'flag.example:7233', namespace: 'flag-ns', tls: undefined },
    },
    {
      name: '--profile picks a profile; env key still applies',
      env: { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_API_KEY: 'env-key' },
      flags: { profile: 'cloud' },
      expected: { address: 'us-east-1.aws.api.temporal.io:7233', namespace: 'flywheel.a1b2c', tls: true, apiKey: 'env-key' },
    },
    {
      name: '--api-key implies TLS',
      env: { TEMPORAL_CONFIG_FILE: missingFile },
      flags: { address: 'a.example:7233', apiKey: 'flag-key' },
      expected: { address: 'a.example:7233', namespace: 'default', tls: true, apiKey: 'flag-key' },
    },
    {
      name: '--tls=false wins over an API key',
      env: { TEMPORAL_CONFIG_FILE: missingFile },
      flags: { address: 'a.example:7233', apiKey: 'k', tls: false },
      expected: { address: 'a.example:7233', namespace: 'default', tls: false, apiKey: 'k' },
    },
    {
      name: '--tls turns TLS on without a key',
      env: { TEMPORAL_CONFIG_FILE: missingFile, TEMPORAL_ADDRESS: 'b.example:7233' },
      flags: { tls: true },
      expected: { address: 'b.example:7233', namespace: 'default', tls: true },
    },
  ])('$name', ({ env, flags, expected }) => {
    const target = resolveRemoteTarget(env, flags)!;
    expect(target.embedded).toBe(false);
    expect(target.address).toBe(expected.address);
    expect(target.namespace).toBe(expected.namespace);
    expect(target.connectionOptions.tls).toBe(expected.tls);
    expect(target.connectionOptions.apiKey).toBe(expected.apiKey);
  });

  it('falls back to the embedded server only when nothing names a cluster', () => {
    expect(resolveRemoteTarget({ TEMPORAL_CONFIG_FILE: missingFile }, {})).toBeUndefined();
    expect(resolveRemoteTarget({ TEMPORAL_CONFIG_FILE: missingFile, TEMPORAL_NAMESPACE: 'ns' }, {})).toBeUndefined();
  });

  it('rejects ambiguous settings instead of guessing', () => {
    expect(() => resolveRemoteTarget({ TEMPORAL_CONFIG_FILE: configFile }, { profile: 'missing' })).toThrow(/Profile 'missing' not found/);
    expect(() => resolveRemoteTarget({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'noaddr' }, {})).toThrow(/has no address/);
    expect(() => resolveRemoteTarget({ TEMPORAL_CONFIG_FILE: missingFile, TEMPORAL_API_KEY: SECRET }, {})).toThrow(/API key is configured but no address/);
    try {
      resolveRemoteTarget({ TEMPORAL_CONFIG_FILE: missingFile, TEMPORAL_API_KEY: SECRET }, {});
    } catch (err) {
      expect((err as Error).message).not.toContain(SECRET);
    }
  });
});

describeTemporal('connectClient', () => {
  it('binds the client to the target namespace and talks to the server', async () => {
    const target = resolveRemoteTarget({ TEMPORAL_CONFIG_FILE: missingFile, TEMPORAL_ADDRESS: temporalAddress! }, {})!;
    const client = await connectClient(target);
    try {
      expect(client.options.namespace).toBe('default');
      const info = await client.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
    } finally {
      await client.connection.close();
    }
  });
});
