/**
 * On a cluster the flywheel does not manage, `run` checks the search attributes the workflow sets before it
 * starts anything: a namespace without them is refused with the commands that register them (otherwise every run
 * would hang at its first workflow task).
 */
import { randomUUID } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../src/shared.js';
import { ensureNamespace, ensureSearchAttributes, missingSearchAttributeCommands } from '../src/temporal/devserver.js';
import { ensureCliBuilt, eventually, repoRoot } from './support/cli-flywheel.js';
import { describeTemporal, temporalAddress } from './support/temporal-harness.js';

describeTemporal('search-attribute preflight', () => {
  const namespace = `bare-${randomUUID().slice(0, 8)}`;
  let connection: Connection;
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-preflight-'));
  beforeAll(async () => {
    await ensureCliBuilt();
    connection = await Connection.connect({ address: temporalAddress! });
    await ensureNamespace(connection, namespace);
  }, 120_000);
  afterAll(async () => {
    await connection?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a registration command per missing attribute', async () => {
    // A just-registered namespace reaches the operator service's cache a moment after the frontend's.
    const missing = await eventually(async () => (await missingSearchAttributeCommands(connection, namespace)) ?? undefined, 20_000, 'the namespace to be listable');
    expect(missing).toHaveLength(Object.keys(SEARCH_ATTRIBUTES).length);
    expect(missing).toContain(`temporal operator search-attribute create --namespace ${namespace} --name FlywheelProject --type Keyword`);
    expect(missing).toContain(`temporal operator search-attribute create --namespace ${namespace} --name FlywheelGoal --type Text`);
  });

  it('run refuses to start on that namespace, printing the commands, and starts nothing', async () => {
    const home = join(dir, 'home');
    const r = await execa(process.execPath, [join(repoRoot, 'bin', 'flywheel.js'), '--home', home, '--address', temporalAddress!, '--namespace', namespace,
      'run', '--example', '--no-worker', '--detach', '--workflow-id', 'preflight-run'], {
      cwd: dir, env: { BRAINTRUST_API_KEY: undefined, TEMPORAL_ADDRESS: undefined, CI: undefined }, reject: false, stdin: 'ignore', timeout: 180_000,
    });
    await execa(process.execPath, [join(repoRoot, 'bin', 'flywheel.js'), '--home', home, 'local', 'stop'], { cwd: dir, reject: false, stdin: 'ignore' });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`namespace ${namespace} lacks ${Object.keys(SEARCH_ATTRIBUTES).length} search attribute(s)`);
    expect(r.stderr).toContain(`temporal operator search-attribute create --namespace ${namespace} --name FlywheelPhase --type Keyword`);
    const started = await connection.workflowService.listWorkflowExecutions({ namespace, query: '' });
    expect(started.executions ?? []).toEqual([]);
  });

  it('after registering them, nothing is missing', async () => {
    await ensureSearchAttributes(connection, namespace);
    expect(await missingSearchAttributeCommands(connection, namespace)).toEqual([]);
  });
});
