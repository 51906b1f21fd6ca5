/**
 * Activity proxies, one per retry policy, created once for the whole workflow bundle. Activities are imported
 * as types only: their code never enters the workflow bundle.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { FlywheelActivities } from '../activities/index.js';

/** Failure types raised where the error is understood as permanent (bad input, missing pieces). */
const NON_RETRYABLE = ['InvalidConfig', 'ProjectNotFound', 'BaselineNotFound', 'NoEvalFiles', 'NoScore', 'ChangeAgentMissing', 'ChangeAgentFailed', 'ChangeAgentTimeout', 'LabelerOutput', 'HandoffValidationError'];

/** Queries and small writes: a few retries. bt's own non-retryable kinds are marked where raised. */
export const acts = proxyActivities<FlywheelActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Evals, curation with a labeler, the change agent: long, heartbeating, cancellable. */
export const longActs = proxyActivities<FlywheelActivities>({
  startToCloseTimeout: '90 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** The handoff writer: it must succeed, so it retries longest. */
export const handoffActs = proxyActivities<FlywheelActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1s', maximumAttempts: 10, nonRetryableErrorTypes: ['HandoffValidationError'] },
});
