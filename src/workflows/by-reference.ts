/**
 * Large data by reference (issue 9: a run's history stays small and flat). Orient's context and every eval result
 * are written to the run directory by the activity that made them, and come back with `stored` (a StoredRef). The
 * workflow keeps the whole objects — its decisions read them — but what it sends to later activities carries, in
 * their place, only the reference and the fields the workflow itself changed after the activity returned:
 *
 * - an OrientContext → `{ stored, baseline }` (the workflow pins the baseline after a baseline eval);
 * - an EvalResult → `{ stored, iteration? }` (the workflow tags each eval with its iteration).
 *
 * The activity side (src/activities/stored.ts) reads the file back, checks its sha256 and merges those fields.
 * Activities run on the host that holds the run directory (host-affine queues), so the file is there. Objects
 * without `stored` (results recorded before this, in histories of older releases) are sent whole, as before.
 * Pure and deterministic: only the shape of activity inputs changes, never which commands the workflow issues.
 */
import type { EvalResult } from './logic/evidence.js';
import type { OrientContext, StoredRef } from './types.js';

/** How deep into an activity's arguments references are looked for (writeHandoff: input.evals[i] is depth 3). */
const MAX_DEPTH = 4;

const isStoredRef = (x: unknown): x is StoredRef =>
  !!x && typeof x === 'object' && typeof (x as StoredRef).path === 'string' && typeof (x as StoredRef).sha256 === 'string' && ((x as StoredRef).kind === 'context' || (x as StoredRef).kind === 'eval');

/** What is sent instead of `value` when it is a stored context or eval result; otherwise null. */
function reference(value: Record<string, unknown>): Record<string, unknown> | null {
  const stored = value.stored;
  if (!isStoredRef(stored)) return null;
  if (stored.kind === 'context' && typeof value.runDir === 'string') {
    return { stored, baseline: (value as unknown as OrientContext).baseline ?? null };
  }
  if (stored.kind === 'eval' && typeof value.experimentId === 'string') {
    const iteration = (value as unknown as EvalResult & { iteration?: number }).iteration;
    return { stored, ...(iteration !== undefined ? { iteration } : {}) };
  }
  return null;
}

/** `value` with every stored context and eval result (to MAX_DEPTH) replaced by its reference. */
export function byReference<T>(value: T, depth = 0): T {
  if (!value || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => byReference(v, depth + 1)) as T;
  const ref = reference(value as Record<string, unknown>);
  if (ref) return ref as T;
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const slim = byReference(v, depth + 1);
    if (slim !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = slim;
  }
  return (out ?? value) as T;
}

/** An activity proxy whose calls send their arguments by reference (see above); same type, same activities. */
export function sendingByReference<T extends object>(acts: T): T {
  return new Proxy(acts, {
    get(target, name, receiver) {
      const fn = Reflect.get(target, name, receiver) as unknown;
      if (typeof fn !== 'function') return fn;
      return (...args: unknown[]) => (fn as (...a: unknown[]) => unknown)(...args.map((a) => byReference(a)));
    },
  });
}
