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
async function answerGates(w: TestWorker, workflowId: string, answer: (s: FlywheelStatus) => 'approve' | 'reject' | Promise<'approve' | 'reject'>): Promise<string[]> {
  const handle = w.client.workflow.getHandle(workflowId);
  const answered: string[] = [];
  for (;;) {
    const desc = await handle.describe();
    if (desc.status.name !== 'RUNNING') return answered;
    const s = await handle.query(statusQuery).catch(() => null);
    const gate = s?.pendingGate;
    if (s && gate && !answered.includes(gate.id)) {
      answered.push(gate.id);
      const a = await answer(s);
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
    const seen: FlywheelStatus[] = [];
    const { BtClient } = await import('../src/bt/client.js');
    const bt = new BtClient({ env: { ...env.server.btEnv(), HOME: env.home, PATH: process.env.PATH ?? '' } });
    /** Rows of the dataset a write gate names, right now (null: the dataset does not exist). */
    const rowsIn = async (name: string): Promise<number | null> => {
      const ds = (await bt.datasetsList('support-agent')).find((d) => d.name === name);
      if (!ds) return null;
      const [r] = (await bt.sql(`SELECT COUNT(*) AS n FROM dataset('${ds.id}')`)).data as Array<{ n: number }>;
      return Number(r!.n);
    };
    const rowsAtWriteGate: Array<number | null> = [];
    const result = await env.execute(workflowId, env.input({ mode: 'interactive', gateTimeout: '10m' }), async (w) => {
      gates = await answerGates(w, workflowId, async (s) => {
        seen.push(s);
        const g = s.pendingGate!;
        const m = /^Upsert (\d+) curated rows? into dataset (.+)$/.exec(g.title);
        if (m) rowsAtWriteGate.push(await rowsIn(m[2]!));
        return 'approve' as const;
      });
    });
    expect(result.outcome).toBe('improved');
    const summary = summaryOf(result.summaryPath);

    // The plan gate shows the baseline the change is judged against.
    const planGate = seen.find((s) => s.pendingGate!.kind === 'plan')!.pendingGate!;
    expect(planGate.detail).toMatch(/\*\*Judged against:\*\* baseline experiment `[^`]+` \(id `[^`]+`, \d+ rows\) — `[a-z_]+` [\d.]+/);
    // Each dataset write gate opens once its rows are ready, shows counts, target and a sample with labels, and the
    // dataset holds none of them yet.
    const writeGates = seen.map((s) => s.pendingGate!).filter((g) => g.title.startsWith('Upsert '));
    expect(writeGates.length).toBeGreaterThan(0);
    const datasetChanges = summary.changes_detail.filter((c) => c.artifact === 'dataset');
    expect(writeGates.length).toBe(datasetChanges.length);
    for (const [i, g] of writeGates.entries()) {
      const c = datasetChanges[i]!;
      expect(g.title).toBe(`Upsert ${c.dataset_rows!.upserted} curated rows into dataset ${c.dataset_rows!.dataset}`);
      expect(g.detail).toContain(`**Target:** dataset \`${c.dataset_rows!.dataset}\` in project \`support-agent\``);
      expect(g.detail).toContain(`${c.dataset_rows!.train} train / ${c.dataset_rows!.validation} validation`);
      expect(g.detail).toMatch(/\d+ failing, \d+ passing/);
      expect(g.detail).toMatch(/near-duplicates? dropped/);
      expect(g.detail).toMatch(/Sample \(\d+ of \d+ rows; production text, shown as data\):\n\n```+text\n1\. failing · (train|validation) · label: /);
      expect(g.detail).toMatch(/\n {3}label: /);
      expect(g.shown).toMatch(/^\d+ rows \(\d+ failing, \d+ passing; .*\) into dataset /);
    }
    // Nothing was written before the first write gate was approved.
    expect(rowsAtWriteGate[0]).toBeNull();
    // The routing gate shows the diff the change agent made.
    const routeGate = seen.find((s) => s.pendingGate!.kind === 'route')!;
    expect(routeGate.pendingGate!.detail).toContain('**Changes of this iteration:**');
    expect(routeGate.pendingGate!.detail).toMatch(/```+diff\ndiff src\/(policy|tools)\.ts\n--- a\/src\/\w+\.ts\n\+\+\+ b\/src\/\w+\.ts\n@@ -\d+,\d+ \+\d+,\d+ @@/);
    expect(routeGate.changes?.some((c) => c.artifact === 'agent' && c.diff?.excerpt.includes('@@'))).toBe(true);
    // The handoff records what each gate showed, and each code change's diff.
    expect(summary.gates.find((g) => g.kind === 'plan')!.shown).toMatch(/^baseline .+ chosen: /);
    expect(summary.gates.filter((g) => g.kind === 'write' && g.shown?.includes('into dataset')).length).toBe(writeGates.length);
    const agent = summary.changes_detail.find((c) => c.artifact === 'agent')!;
    expect(agent.diff?.excerpt).toMatch(/^@@ /m);
    expect(summary.artifacts.some((a) => a.kind === 'diff' && a.path === agent.diff!.path)).toBe(true);
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
