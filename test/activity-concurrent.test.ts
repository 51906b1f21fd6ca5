/**
 * allInOrder (src/activities/concurrent.ts): independent reads started together keep the sequential code's
 * results order and failure behaviour.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { allInOrder } from '../src/activities/concurrent.js';

const later = <T>(ms: number, value: T, signal: AbortSignal) => sleep(ms, value, { signal });

describe('allInOrder', () => {
  it('runs the calls together and returns their results in the listed order', async () => {
    const started: number[] = [];
    const out = await allInOrder(undefined, [
      (s) => (started.push(1), later(40, 'slow', s)),
      (s) => (started.push(2), later(1, 'fast', s)),
    ] as const);
    expect(out).toEqual(['slow', 'fast']);
    expect(started).toEqual([1, 2]);
  });

  it('reports the first listed failure and stops the calls still running', async () => {
    let stopped = false;
    const err = await allInOrder(undefined, [
      async () => {
        await sleep(5);
        throw new Error('first');
      },
      (s) =>
        later(5_000, 'never', s).catch((e: unknown) => {
          stopped = s.aborted;
          throw e;
        }),
    ] as const).catch((e: unknown) => e);
    expect((err as Error).message).toBe('first');
    expect(stopped).toBe(true);
  });

  it('a later call failing first does not hide an earlier one that succeeds: its own error is reported', async () => {
    const err = await allInOrder(undefined, [(s) => later(30, 'ok', s), () => Promise.reject(new Error('second'))] as const).catch((e: unknown) => e);
    expect((err as Error).message).toBe('second');
  });

  it('the activity signal stops every call', async () => {
    const outer = new AbortController();
    const p = allInOrder(outer.signal, [(s) => later(5_000, 'a', s), (s) => later(5_000, 'b', s)] as const);
    outer.abort();
    await expect(p).rejects.toThrow();
  });
});
