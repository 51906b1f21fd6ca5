/**
 * The activity side of "large data by reference" (src/workflows/by-reference.ts): results an activity also writes
 * to the run directory (Orient's context, eval results), and the reading back of the references later activities
 * are sent instead of them. A file is trusted only with the sha256 the workflow holds for it.
 *
 * Inputs stay tolerant: a whole object (what workflows of older releases, still in flight, send) passes through.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { StoredRef } from '../workflows/types.js';
import { readChecked, writeJsonAtomic } from './files.js';

/** Same depth as the workflow side looks (writeHandoff's input.evals[i] is at depth 3). */
const MAX_DEPTH = 4;

/** The field a whole object of each kind always has (a reference never has it). */
const BODY_KEY: Record<StoredRef['kind'], string> = { context: 'runDir', eval: 'experimentId' };
/**
 * A field only the stored file has: an object with `stored` but without it is a result as the activity returned it
 * (runEval leaves the rows file out of what enters history), completed from the file like a reference.
 */
const FILE_ONLY_KEY: Partial<Record<StoredRef['kind'], string>> = { eval: 'rowsFile' };

/**
 * Writes `value` to `path` and returns it with its reference (the file holds it without `stored`). `fileOnly`: fields
 * left out of what is returned (the workflow never reads them; activities it sends the reference to get them from the
 * file), so they do not enter history.
 */
export async function storeResult<T extends object, K extends keyof T = never>(path: string, kind: StoredRef['kind'], value: T, fileOnly: readonly K[] = []): Promise<Omit<T, K> & { stored: StoredRef }> {
  const { stored: _old, ...body } = value as T & { stored?: unknown };
  const ref = await writeJsonAtomic(path, body);
  const returned: Record<string, unknown> = { ...body };
  for (const k of fileOnly) delete returned[k as string];
  return { ...(returned as Omit<T, K>), stored: { path: ref.path, sha256: ref.sha256, bytes: ref.bytes, kind } };
}

export class StoredFileError extends Error {
  constructor(
    readonly ref: StoredRef,
    readonly why: string,
  ) {
    super(`the run directory's ${ref.kind} file ${ref.path} ${why}`);
    this.name = 'StoredFileError';
  }
}

/** The object a reference points at, checked by sha256. */
export async function readStored(ref: StoredRef): Promise<Record<string, unknown>> {
  const got = await readChecked(ref);
  if ('why' in got) throw new StoredFileError(ref, got.why === 'changed' ? 'changed after it was written (sha256 differs)' : `cannot be read (${got.detail})`);
  return JSON.parse(got.text) as Record<string, unknown>;
}

function referenceOf(value: Record<string, unknown>): StoredRef | null {
  const s = value.stored as StoredRef | undefined;
  if (!s || typeof s !== 'object' || typeof s.path !== 'string' || typeof s.sha256 !== 'string') return null;
  const body = BODY_KEY[s.kind];
  if (!body) return null;
  const fileOnly = FILE_ONLY_KEY[s.kind];
  return !(body in value) || (fileOnly !== undefined && !(fileOnly in value)) ? s : null;
}

/**
 * `value` with every reference (to MAX_DEPTH) replaced by the stored object plus the fields sent beside the
 * reference. A reference that cannot be read goes to `onMissing`: its answer replaces it (default: the activity
 * fails, not retryable — the file will not come back by retrying).
 */
export async function resolveStored<T>(value: T, onMissing?: (err: StoredFileError) => unknown, depth = 0): Promise<T> {
  if (!value || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return (await Promise.all(value.map((v) => resolveStored(v, onMissing, depth + 1)))) as T;
  const ref = referenceOf(value as Record<string, unknown>);
  if (ref) {
    try {
      const body = await readStored(ref);
      return { ...body, ...(value as Record<string, unknown>) } as T;
    } catch (err) {
      if (!(err instanceof StoredFileError)) throw err;
      if (onMissing) return onMissing(err) as T;
      throw ApplicationFailure.nonRetryable(err.message, 'StoredFileMissing');
    }
  }
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const full = await resolveStored(v, onMissing, depth + 1);
    if (full !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = full;
  }
  return (out ?? value) as T;
}
