import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { WORKFLOW_TYPE } from '../src/shared.js';
import { workflowsPath } from '../src/worker.js';
import { describeTemporal, makeTestWorker } from './support/temporal-harness.js';

it('resolves the workflow barrel next to the worker', () => {
  expect(workflowsPath).toMatch(/src[/\\]workflows[/\\]index\.(ts|js)$/);
  expect(existsSync(workflowsPath)).toBe(true);
});

describeTemporal('worker wiring on the shared dev server', () => {
  // Runs the placeholder `flywheelWorkflow` (returns 'placeholder'); replace with a real smoke run
  // once src/workflows/index.ts holds the flywheel.
  it('executes a workflow from the pre-built bundle on a unique task queue', async () => {
    const t = await makeTestWorker();
    try {
      expect(t.taskQueue).toMatch(/^test-/);
      const result = await t.runUntil(
        t.client.workflow.execute(WORKFLOW_TYPE, { taskQueue: t.taskQueue, workflowId: t.workflowId('placeholder'), args: [] }),
      );
      expect(result).toBe('placeholder');
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
});
