/**
 * Independent reads of one activity, started together instead of one after another, with the failure behaviour of
 * the sequential code: results (and the error reported) come in the order the calls are listed, and once a call
 * has failed the ones after it are stopped (their `bt` processes killed through the signal they were given).
 */
export async function allInOrder<T extends readonly unknown[]>(
  signal: AbortSignal | undefined,
  calls: { [K in keyof T]: (signal: AbortSignal) => Promise<T[K]> },
): Promise<T> {
  const stop = new AbortController();
  const inner = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const running = calls.map((call) => {
    const p = call(inner);
    p.catch(() => undefined); // awaited below, in order
    return p;
  });
  const out: unknown[] = [];
  try {
    for (const p of running) out.push(await p);
  } catch (err) {
    stop.abort();
    await Promise.allSettled(running);
    throw err;
  }
  return out as unknown as T;
}

/**
 * Runs `tasks` with at most `limit` at a time, in list order; once one has failed no further task starts, the ones
 * running finish (nothing is killed: their work counts for a retry), and the first failure in list order is thrown.
 * `limit` 1 is the sequential loop.
 */
export async function boundedInOrder<T>(limit: number, tasks: ReadonlyArray<() => Promise<T>>): Promise<T[]> {
  const results: Array<{ ok: true; value: T } | { ok: false; error: unknown } | undefined> = new Array(tasks.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < tasks.length) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await tasks[i]!() };
      } catch (error) {
        results[i] = { ok: false, error };
        failed = true;
      }
    }
  };
  const lanes = Math.max(1, Math.min(Math.floor(limit) || 1, tasks.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  // Tasks start in list order, so the ones never started come after the first failure.
  const failure = results.find((r) => r && !r.ok);
  if (failure && !failure.ok) throw failure.error;
  return results.map((r) => (r as { value: T }).value);
}
