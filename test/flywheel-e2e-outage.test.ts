/**
 * Outages are ridden out (real parts: shared dev server, local Braintrust server, real bt): the Braintrust side
 * goes away for 25 s while the run is in Discover and comes back on the same address; the failed activity
 * retries with backoff inside the run's retry window and the run ends as an undisturbed one does — no `blocked`.
 */
import { expect, it } from 'vitest';
import { startLocalServer } from '../src/local-server/index.js';
import { statusQuery } from '../src/workflows/definitions.js';
import { makeFlywheelEnv } from './support/flywheel-e2e.js';
import { describeTemporal } from './support/temporal-harness.js';

describeTemporal('outages', () => {
  it('Braintrust unreachable for 25 s during Discover: the run waits it out and ends needs_work, not blocked', async () => {
    const env = await makeFlywheelEnv({ traces: 600 });
    let restarted: Awaited<ReturnType<typeof startLocalServer>> | null = null;
    try {
      const workflowId = `outage-${Date.now()}`;
      const input = env.input({ changeCommand: undefined, labeler: undefined, retryWindow: '10m' });
      const result = await env.execute(workflowId, input, async (w) => {
        const handle = w.client.workflow.getHandle(workflowId);
        for (;;) {
          const s = await handle.query(statusQuery).catch(() => null);
          if (s && s.phase !== 'orient') break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const { port, dataFile, apiKey } = env.server;
        await env.server.close();
        await new Promise((r) => setTimeout(r, 25_000));
        restarted = await startLocalServer({ port, dataFile, apiKey });
      });
      expect(result.outcome).toBe('needs_work');
      // Some activity really failed while the server was away and succeeded on a later attempt.
      const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const attempts = events.flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : []));
      expect(Math.max(...attempts)).toBeGreaterThan(1);
      expect(events.some((e) => e.activityTaskFailedEventAttributes)).toBe(false);
    } finally {
      await (restarted as { close(): Promise<void> } | null)?.close();
      await env.teardown();
    }
  });
});
