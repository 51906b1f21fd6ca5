/**
 * allInOrder (src/activities/concurrent.ts): independent reads started together keep the sequential code's
 * results order and failure behaviour.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { allInOrder, boundedInOrder } from '../src/activities/concurrent.js';

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

describe('boundedInOrder (runEvals: paired evals at most evalConcurrency at once)', () => {
  const task = (log: string[], name: string, ms: number, fail = false) => async () => {
    log.push(`start ${name}`);
    await sleep(ms);
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };

  it('limit 1 is the sequential loop: one finishes before the next starts', async () => {
    const log: string[] = [];
    expect(await boundedInOrder(1, [task(log, 'a', 10), task(log, 'b', 1)])).toEqual(['a', 'b']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('limit 2 runs both at once and keeps the listed order of results', async () => {
    const log: string[] = [];
    expect(await boundedInOrder(2, [task(log, 'a', 30), task(log, 'b', 1), task(log, 'c', 1)])).toEqual(['a', 'b', 'c']);
    expect(log.slice(0, 2)).toEqual(['start a', 'start b']);
    // c takes b's lane while a still runs.
    expect(log.indexOf('start c')).toBeLessThan(log.indexOf('end a'));
  });

  it('after a failure nothing new starts, the running task finishes, and the first listed failure is raised', async () => {
    const log: string[] = [];
    const err = await boundedInOrder(2, [task(log, 'a', 30), task(log, 'b', 1, true), task(log, 'c', 1)]).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('b');
    expect(log).toContain('end a'); // not cut off: a retry reuses its checkpointed result
    expect(log).not.toContain('start c');
  });

  it('limit 1 stops after the first failure like the loop it replaces', async () => {
    const log: string[] = [];
    await expect(boundedInOrder(1, [task(log, 'a', 1, true), task(log, 'b', 1)])).rejects.toThrow('a');
    expect(log).toEqual(['start a', 'end a']);
  });
});
