/**
 * Activity proxies, one per retry policy. Activities are imported as types only: their code never enters the
 * workflow bundle.
 *
 * Host affinity: activities pass host paths (agent directory, run directory, row files) to each other and use
 * the worker's Braintrust credentials, so every activity of a run executes on the worker that holds them — the
 * task queues in `hostQueues` (worker-specific task queues). Only `claimHost` runs on the workflow's own queue:
 * when a run names no host, the first worker that answers it becomes the run's host.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { HostQueues } from '../../schemas/flywheel-input.js';
import type { FlywheelActivities } from '../activities/index.js';
import { sendingByReference } from './by-reference.js';

/**
 * Permanent failures (bad input, missing pieces: InvalidConfig, ProjectNotFound, NoEvalFiles, NoScore, ChangeAgent*,
 * LabelerOutput, bt's permanent kinds…) are raised non-retryable where they arise (`ApplicationFailure.nonRetryable`,
 * src/bt/errors.ts), so the policies below name no failure types: a list here was repeated in every
 * ActivityTaskScheduled event of the history (~0.3 kB each) and said nothing the failures do not say themselves. The
 * handoff writer keeps its one type (HandoffValidationError is a plain Error raised by the handoff builder).
 */

/** Implemented by the worker wiring (src/worker.ts), not by createActivities: it names the worker's own queues. */
export interface HostActivities {
  claimHost(): Promise<HostQueues & { identity: string }>;
}

/** The run's host: asked on the workflow's task queue, answered by whichever worker polls it first. */
export const claimActs = proxyActivities<HostActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

export interface ActivityProxies {
  /** Queries and small writes: a few retries. bt's own non-retryable kinds are marked where raised. */
  acts: FlywheelActivities;
  /** Evals, curation with a labeler, the change agent: long, heartbeating, cancellable. */
  longActs: FlywheelActivities;
  /** The handoff writer: it must succeed, so it retries longest. */
  handoffActs: FlywheelActivities;
}

/**
 * The proxies of one run. `queues` absent (histories recorded before host affinity): the workflow's own task
 * queue, as those runs did.
 */
export function activityProxies(queues: HostQueues | undefined, retryWindowMs: number): ActivityProxies {
  const host = queues ? { taskQueue: queues.host } : {};
  const heavy = queues ? { taskQueue: queues.heavy } : {};
  // Outages are ridden out: transient failures retry with capped backoff until one attempt's time plus the retry
  // window is spent; permanent ones are non-retryable where they are raised and stop at once.
  const MIN = 60_000;
  // A dead worker's activity is retried once its heartbeats stop for HEARTBEAT_TIMEOUT: every activity heartbeats
  // at least every 10 s (a keep-alive in src/activities/index.ts; bt and other children every 5 s), and the SDK
  // forwards one heartbeat per 0.8 × 40 s = 32 s at most, so a live activity has ≥ 8 s of slack. A kill is noticed
  // ≤ 40 s after the last heartbeat, and the retry starts after the first backoff (2 s / 10 s): within ~50 s.
  const HEARTBEAT_TIMEOUT = '40 seconds';
  // Stored contexts and eval results go to activities by reference (src/workflows/by-reference.ts).
  /** One policy family: an attempt may take `attemptMin` minutes; retries back off from `firstRetry` to `maxRetry`. */
  const windowed = (queue: object, attemptMin: number, firstRetry: string, maxRetry: string) =>
    sendingByReference(proxyActivities<FlywheelActivities>({
      ...queue,
      startToCloseTimeout: attemptMin * MIN,
      scheduleToCloseTimeout: attemptMin * MIN + retryWindowMs,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: { initialInterval: firstRetry, backoffCoefficient: 2, maximumInterval: maxRetry },
    }));
  return {
    acts: windowed(host, 10, '2s', '1 minute'),
    longActs: windowed(heavy, 90, '10s', '2 minutes'),
    handoffActs: sendingByReference(proxyActivities<FlywheelActivities>({
      ...host,
      startToCloseTimeout: '5 minutes',
      retry: { initialInterval: '1s', maximumAttempts: 10, nonRetryableErrorTypes: ['HandoffValidationError'] },
    })),
  };
}
