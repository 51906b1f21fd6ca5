/**
 * The one injectable "now" of the flywheel's side of time windows (DESIGN: tests on any date).
 *
 * The product uses the real clock. Tests pin it, so generated example traffic, Discover's windows and the
 * local server's `NOW()` all agree on one instant whatever the calendar says:
 *
 * - in-process: pass a `Clock` (`fixedClock(...)`) to `createActivities`, `startLocalServer` and the
 *   example generator (`now`);
 * - across processes (the CLI, the local-server daemon, the example generator run by `run --example`):
 *   set `FLYWHEEL_FAKE_NOW` to an ISO instant. It is read only by those three places and is meant for
 *   tests and reproducible demos; workflow time (Temporal's) and stored `created` stamps stay real.
 */
export type Clock = () => Date;

export const FAKE_NOW_ENV = 'FLYWHEEL_FAKE_NOW';

export const systemClock: Clock = () => new Date();

/** A clock frozen at `at` (an ISO instant or a Date). */
export function fixedClock(at: string | Date): Clock {
  const ms = typeof at === 'string' ? parseInstant(at) : at.getTime();
  if (!Number.isFinite(ms)) throw new Error(`invalid instant ${String(at)}`);
  return () => new Date(ms);
}

function parseInstant(text: string): number {
  // An explicit offset or Z is required: a bare local time would mean a different instant on each machine.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return Number.NaN;
  return Date.parse(text);
}

/** `FLYWHEEL_FAKE_NOW` when set (an ISO instant with Z or an offset), else the real clock. */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const text = env[FAKE_NOW_ENV]?.trim();
  if (!text) return systemClock;
  const ms = parseInstant(text);
  if (!Number.isFinite(ms)) {
    throw new Error(`${FAKE_NOW_ENV}=${JSON.stringify(text).slice(0, 60)} is not an ISO instant such as 2026-06-15T12:00:00Z; unset it to use the real clock`);
  }
  return () => new Date(ms);
}
