/**
 * `run --example [name]`: `--example` alone stays the TypeScript support agent; `--example python` picks the
 * Python travel agent with its own project, handoff directory, change agent and labeler.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRunRequest, EXAMPLE_DIR, exampleSpec, PYTHON_EXAMPLE_DIR } from '../src/cli/run.js';

const home = mkdtempSync(join(tmpdir(), 'run-example-opts-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const globals = { home } as never;
const env = { HOME: home } as NodeJS.ProcessEnv;

describe('run --example [name]', () => {
  it('--example alone (and support aliases) is the TypeScript support agent, as before', async () => {
    for (const value of [true, 'support', 'support-agent', 'ts'] as const) {
      const { input, workflowId } = await buildRunRequest({ example: value }, globals, env);
      expect(input).toMatchObject({ project: 'support-agent', agentDir: EXAMPLE_DIR, outDir: join(home, 'example-out'), mode: 'autonomous', workOnCopy: true });
      expect(input.changeCommand!.at(-1)).toBe(join(EXAMPLE_DIR, 'change-agent.mjs'));
      expect(workflowId).toMatch(/^flywheel-support-agent-/);
    }
  });

  it('--example python is the travel agent with its own project, out dir, change agent and labeler', async () => {
    const { input, workflowId } = await buildRunRequest({ example: 'python' }, globals, env);
    expect(input).toMatchObject({ project: 'travel-agent', agentDir: PYTHON_EXAMPLE_DIR, outDir: join(home, 'example-python-out'), mode: 'autonomous', workOnCopy: true, dotenv: true });
    expect(input.changeCommand!.at(-1)).toBe(join(PYTHON_EXAMPLE_DIR, 'change_agent.py'));
    expect(input.labeler!.at(-1)).toBe(join(PYTHON_EXAMPLE_DIR, 'labeler.py'));
    expect(workflowId).toMatch(/^flywheel-travel-agent-/);
    expect(exampleSpec('travel')?.name).toBe('python');
  });

  it('an unknown example name is a usage error', async () => {
    await expect(buildRunRequest({ example: 'cobol' }, globals, env)).rejects.toThrow(/unknown --example 'cobol'/);
    expect(exampleSpec(undefined)).toBeUndefined();
  });
});
