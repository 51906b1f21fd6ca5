import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { expect, it } from 'vitest';
import { WORKFLOW_TYPE } from '../src/shared.js';
import { workflowsPath } from '../src/worker.js';
import { describeTemporal, makeTestWorker, temporalAddress } from './support/temporal-harness.js';

it('resolves the workflow barrel next to the worker', () => {
  expect(workflowsPath).toMatch(/src[/\\]workflows[/\\]index\.(ts|js)$/);
  expect(existsSync(workflowsPath)).toBe(true);
});

describeTemporal('worker wiring on the shared dev server', () => {
  // Wiring only, independent of what the flywheel does: the bundled `flywheelWorkflow` runs on this
  // worker's queue and completes — with 'placeholder' (the stand-in barrel) or, for the real
  // flywheel given no input, with an ApplicationFailure raised by the workflow code itself.
  it('executes a workflow from the pre-built bundle on a unique task queue', async () => {
    const t = await makeTestWorker();
    try {
      expect(t.taskQueue).toMatch(/^test-/);
      const outcome = await t.runUntil(
        t.client.workflow
          .execute(WORKFLOW_TYPE, { taskQueue: t.taskQueue, workflowId: t.workflowId('wiring'), args: [], workflowExecutionTimeout: '30s' })
          .then(
            (result: unknown) => ({ result }),
            (error: unknown) => ({ error }),
          ),
      );
      if ('result' in outcome) {
        expect(outcome.result).toBe('placeholder');
      } else {
        expect(outcome.error).toBeInstanceOf(WorkflowFailedError);
        expect((outcome.error as WorkflowFailedError).cause).toBeInstanceOf(ApplicationFailure);
      }
      expect(t.worker.getState()).toBe('STOPPED');
    } finally {
      await t.teardown();
    }
  });

  it('tears down a worker that never ran', async () => {
    const t = await makeTestWorker({ activities: { noop: async () => undefined } });
    await t.teardown();
    expect(t.worker.getState()).toBe('STOPPED');
  });

  it('runs the production worker until SIGTERM, then shuts down gracefully', async () => {
    const home = mkdtempSync(join(tmpdir(), 'flywheel-worker-'));
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./support/temporal-worker-main.ts', import.meta.url))], {
      env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress!, TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', FLYWHEEL_HOME: home },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('worker polling')) resolve();
        });
        void exited.then(() => reject(new Error(`worker exited early:\n${stderr}`)));
      });
      expect(stderr).toContain(`on ${temporalAddress} namespace=default`);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toContain('worker stopped');
      expect(existsSync(join(home, 'temporal.json'))).toBe(false); // a named cluster: nothing was started
    } finally {
      child.kill('SIGKILL');
      rmSync(home, { recursive: true, force: true });
    }
  });
});

