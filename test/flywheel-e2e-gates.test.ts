/**
 * Interactive mode end to end: approvals by Update (recorded with who and when), a rejection that writes
 * nothing, and a gate timeout that ends `blocked` with a notify next step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { approveUpdate, rejectSignal, statusQuery, type FlywheelStatus } from '../src/workflows/definitions.js';
import type { Summary } from '../schemas/summary.js';
import { makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';
import { maybeRecordHistory } from './support/histories.js';
import { describeTemporal, type TestWorker } from './support/temporal-harness.js';

/** Answers every gate the run opens with `answer`, until it closes. Returns the gate kinds answered. */
async function answerGates(w: TestWorker, workflowId: string, answer: (s: FlywheelStatus) => 'approve' | 'reject'): Promise<string[]> {
  const handle = w.client.workflow.getHandle(workflowId);
  const answered: string[] = [];
  for (;;) {
    const desc = await handle.describe();
    if (desc.status.name !== 'RUNNING') return answered;
    const s = await handle.query(statusQuery).catch(() => null);
    const gate = s?.pendingGate;
    if (s && gate && !answered.includes(gate.id)) {
      answered.push(gate.id);
      const a = answer(s);
      // Approvals as Updates (the accepted answer comes back as the gate's record); rejections by the older signal.
      if (a === 'approve') {
        const record = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', gateId: gate.id, note: `ok ${gate.kind}` }] });
        expect(record).toMatchObject({ id: gate.id, kind: gate.kind, decision: 'approved', by: 'alice' });
      } else await handle.signal(rejectSignal, { by: 'bob', gateId: gate.id, note: 'not now' });
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

const summaryOf = (path: string | null): Summary => JSON.parse(readFileSync(path!, 'utf8')) as Summary;

describeTemporal('interactive gates', () => {
  let env: FlywheelEnv;
  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'defective' });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs to improved when every gate is approved by Update, recording who approved', async () => {
    const workflowId = `interactive-approve-${Date.now()}`;
    let gates: string[] = [];
    const result = await env.execute(workflowId, env.input({ mode: 'interactive', gateTimeout: '10m' }), async (w) => {
      gates = await answerGates(w, workflowId, () => 'approve');
    });
    expect(result.outcome).toBe('improved');
    const summary = summaryOf(result.summaryPath);
    // The plan gate, a write gate per dataset and change step, and the routing gate.
    expect(summary.gates[0]!.kind).toBe('plan');
    expect(summary.gates.map((g) => g.kind)).toEqual(expect.arrayContaining(['plan', 'write', 'route']));
    expect(summary.gates.every((g) => g.decision === 'approved' && g.by === 'alice')).toBe(true);
    expect(summary.gates.length).toBe(gates.length);
    await maybeRecordHistory(env.client, workflowId, 'interactive_approve');
  });

  it('a rejection at the plan gate ends the run with nothing written', async () => {
    const workflowId = `interactive-reject-${Date.now()}`;
    const result = await env.execute(workflowId, env.input({ mode: 'interactive', datasetName: 'flywheel-rejected', outDir: join(env.home, 'out-reject') }), async (w) => {
      await answerGates(w, workflowId, () => 'reject');
    });
    expect(result.outcome).toBe('needs_work');
    const summary = summaryOf(result.summaryPath);
    expect(summary.gates).toHaveLength(1);
    expect(summary.gates[0]).toMatchObject({ kind: 'plan', decision: 'rejected', by: 'bob' });
    expect(summary.changes_detail).toEqual([]);
    const { BtClient } = await import('../src/bt/client.js');
    const names = (await new BtClient({ env: { ...env.server.btEnv(), HOME: env.home, PATH: process.env.PATH ?? '' } }).datasetsList('support-agent')).map((d) => d.name);
    expect(names).not.toContain('flywheel-rejected');
  });

  it('a gate nobody answers times out: blocked, a notify next step, nothing written', async () => {
    const workflowId = `interactive-timeout-${Date.now()}`;
    const result = await env.execute(workflowId, env.input({ mode: 'interactive', gateTimeout: '2s', datasetName: 'flywheel-timeout', outDir: join(env.home, 'out-timeout') }));
    expect(result.outcome).toBe('blocked');
    const summary = summaryOf(result.summaryPath);
    expect(summary.gates).toEqual([expect.objectContaining({ kind: 'plan', decision: 'timed_out' })]);
    expect(summary.next_steps.some((s) => s.intent === 'notify')).toBe(true);
    expect(summary.changes_detail).toEqual([]);
    await maybeRecordHistory(env.client, workflowId, 'gate_timeout');
  });
});
