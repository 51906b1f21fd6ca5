/**
 * The result of a finished flywheel run, as a client reads it. A run that gave up is a Failed execution whose
 * failure (type FlywheelBlocked) carries the FlywheelResult in its details: it is read back as that result, so
 * callers see outcome `blocked`, the reason and the handoff paths. Any other failure is rethrown.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { BLOCKED_FAILURE_TYPE } from './shared.js';
import type { FlywheelResult } from './workflows/flywheel.js';

/** The FlywheelResult a gave-up run's failure carries, or null when `err` is something else. */
export function blockedResultOf(err: unknown): FlywheelResult | null {
  if (!(err instanceof WorkflowFailedError)) return null;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== BLOCKED_FAILURE_TYPE) return null;
  const detail = cause.details?.[0] as FlywheelResult | undefined;
  return detail && typeof detail === 'object' && typeof detail.outcome === 'string' ? detail : null;
}

/** Awaits the run's result; a run that gave up yields its blocked result instead of throwing. */
export async function runResult(handle: WorkflowHandle): Promise<FlywheelResult> {
  try {
    return (await handle.result()) as FlywheelResult;
  } catch (err) {
    const blocked = blockedResultOf(err);
    if (blocked) return blocked;
    throw err;
  }
}
