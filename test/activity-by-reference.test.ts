/**
 * Orient's context by reference (src/workflows/by-reference.ts, src/activities/stored.ts): the workflow sends later
 * activities `{ stored, baseline }` instead of the whole context; the activity reads context.json back (sha256
 * checked) and works exactly as with the whole context, which workflows of older releases still send. A context
 * file that is gone or changed fails the activity, not retryable.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import { storeResult } from '../src/activities/stored.js';
import { byReference } from '../src/workflows/by-reference.js';
import type { Route } from '../src/workflows/logic/diagnose.js';
import type { OrientContext } from '../src/workflows/types.js';

const dir = mkdtempSync(join(tmpdir(), 'by-reference-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const acts = createActivities({ btEnv: { PATH: process.env.PATH ?? '' } });

const ctx: OrientContext = {
  workflowId: 'wf-ref', runDir: join(dir, 'run'),
  project: { id: 'p', name: 'support-agent', source: 'input', sourceDetail: 'test' },
  org: 'local', appUrl: 'http://localhost:1', baseline: null, scoreColumns: ['answer_quality', 'no_tool_error'], facetColumns: ['Topic'], metadataKeys: ['agent_version'],
  schemaWindowDays: 7, primaryScore: 'answer_quality', binaryScores: [], agentDir: join(dir, 'agent'), evalFiles: ['evals/support.eval.ts'], evalFilesSource: 'test',
  datasetName: 'flywheel-support-agent', instructionFiles: ['AGENTS.md'], notes: ['a note from Orient'],
};
const route: Route = {
  id: 'agent:tool:lookup_order', artifact: 'agent', title: 'Fix lookup_order', rationale: 'it errors', evidence: ['12% of calls error'], counterevidence: [],
  confidence: 'high', targets: [{ kind: 'tool', name: 'lookup_order' }], findingIds: ['reliability:tool:lookup_order'], exampleTraceIds: [],
};
const brief = (c: OrientContext, iteration: number) => ({ ctx: c, goal: 'fix the tool', iteration, artifact: 'agent' as const, routes: [route], findings: [] });

it('an activity sent the reference works as with the whole context; the baseline the workflow pinned later is kept', async () => {
  const stored = await storeResult(join(ctx.runDir, 'context.json'), 'context', ctx);
  expect(JSON.parse(readFileSync(stored.stored.path, 'utf8'))).toEqual(ctx);
  // The workflow pins a baseline after a baseline eval: that field travels beside the reference.
  const pinned = { ...stored, baseline: { id: 'exp-1', name: 'baseline-eval', chosenBy: 'session' as const } };
  const sent = byReference(brief(pinned, 1));
  expect(sent.ctx).toEqual({ stored: stored.stored, baseline: pinned.baseline });
  expect(JSON.stringify(sent).length).toBeLessThan(JSON.stringify(brief(pinned, 1)).length - JSON.stringify(ctx).length / 2);

  const whole = await acts.writeBrief(brief({ ...ctx, baseline: pinned.baseline }, 1));
  const byRef = await acts.writeBrief(sent);
  expect(byRef.body).toContain('`support-agent`');
  expect(byRef).toEqual(whole);
  expect(byRef.path).toBe(join(ctx.runDir, 'iter-1', 'improve-agent', 'brief.md'));
  // Old shape (histories of earlier releases in flight): a whole context without `stored` passes through unchanged.
  expect(byReference(brief(ctx, 3))).toEqual(brief(ctx, 3));
});

it('a context file changed or gone since Orient fails the activity, not retryable, naming the file', async () => {
  const stored = await storeResult(join(dir, 'run2', 'context.json'), 'context', { ...ctx, runDir: join(dir, 'run2') });
  const sent = byReference(brief(stored, 1));
  writeFileSync(stored.stored.path, readFileSync(stored.stored.path, 'utf8').replace('a note from Orient', 'a note from someone else'));
  const changed = await acts.writeBrief(sent).catch((e: unknown) => e);
  expect(changed).toBeInstanceOf(ApplicationFailure);
  expect((changed as ApplicationFailure).nonRetryable).toBe(true);
  expect((changed as ApplicationFailure).message).toBe(`the run directory's context file ${stored.stored.path} changed after it was written (sha256 differs)`);
  rmSync(stored.stored.path);
  const gone = await acts.writeBrief(sent).catch((e: unknown) => e);
  expect((gone as ApplicationFailure).message).toMatch(/context file .* cannot be read \(ENOENT/);
});
