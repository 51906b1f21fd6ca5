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
