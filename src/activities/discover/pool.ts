/**
 * The bounded pool Discover's `bt` calls run in, and the query log behind `queries.jsonl`.
 *
 * Every `bt sql` is a new process plus a round trip to the service; independent queries overlap up to
 * `concurrency` at a time instead of running one after another. Order never depends on completion:
 * - each plane's results are assembled by position (the planes await their own queries by index);
 * - each plane logs into its own list, in the order it issued its queries, and the log is the planes' lists
 *   concatenated in the order the planner created them.
 * Failure: the first error aborts the pool (in-flight `bt` processes are killed, queued calls never start)
 * and is the error the planner rethrows — a permanent error (a bad query) still fails the activity at once,
 * with its own classification; retries are Temporal's job. The activity's cancellation signal aborts the pool too.
 */
import type { BtClient } from '../../bt/client.js';
import { BtError } from '../../bt/errors.js';

export type Row = Record<string, unknown>;

/**
 * `bt` calls in flight at once by default. Each call is mostly waiting (process start, HTTP, the service's
 * query); the worker's own share is small, so a few overlap well even on 2 cores, while the service (and a
 * local DuckDB on the same machine) is not flooded. Measured in bench/BENCHMARKS.md ("Discover battery").
 */
export const DISCOVER_CONCURRENCY = 4;

export interface QueryLogEntry {
  /** The evidence plane that ran the query. */
  plane: string;
  query: string;
  rows: number;
  ms: number;
  requests?: number;
  truncated?: boolean;
}

/** What a plane runs its queries through (one per plane; see QueryPool.plane). */
export interface PlaneQueries {
  run(query: string): Promise<Row[]>;
  /** A cursor-paged read (`base` without ORDER BY / LIMIT), newest first; logged with its request count and whether it hit the cap. */
  pages(base: string, pageSize: number, maxRows: number): Promise<{ rows: Row[]; truncated: boolean }>;
  /**
   * Any other `bt` call (datasets list, view trace), under the same bound and cancellation. `optional`: the
   * caller handles a failure itself, so it does not stop the pool.
   */
  call<T>(fn: (bt: BtClient, signal: AbortSignal) => Promise<T>, opts?: { optional?: boolean }): Promise<T>;
  /**
   * A branch of the plane whose queries are issued later (after an answer arrives): its log takes this call's
   * place, so two branches that wait on different answers log in a fixed order whichever answer comes first.
   */
  branch(): PlaneQueries;
}

/** A plane's log: entries in issue order, and branches in the place they were opened. */
type LogSlot = QueryLogEntry | LogSlot[] | undefined;
const flatten = (slots: LogSlot[]): QueryLogEntry[] => slots.flatMap((x) => (Array.isArray(x) ? flatten(x) : x === undefined ? [] : [x]));

export class QueryPool {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  private readonly planes: Array<{ name: string; entries: LogSlot[] }> = [];
  private readonly stop = new AbortController();
  private readonly calls = new Set<Promise<unknown>>();
  private firstError: unknown;
  /** Most calls in flight at once so far (for tests and the benchmark). */
  peak = 0;
  readonly concurrency: number;

  constructor(
    private readonly bt: BtClient,
    opts: { concurrency?: number; signal?: AbortSignal } = {},
  ) {
    const c = opts.concurrency ?? DISCOVER_CONCURRENCY;
    if (!Number.isInteger(c) || c < 1) throw new RangeError(`concurrency must be a positive integer, got ${String(c)}`);
    this.concurrency = c;
    const outer = opts.signal;
    if (outer?.aborted) this.stop.abort();
    else outer?.addEventListener('abort', () => this.stop.abort(), { once: true });
  }

  /** The first error any call raised (the one to report), if any. */
  get failure(): unknown {
    return this.firstError;
  }

  /** Stops the pool (queued calls never start, running ones are killed); `err` is the failure unless one came first. */
  abort(err: unknown): void {
    if (this.firstError === undefined) this.firstError = err;
    this.stop.abort();
  }

  /** The query log: every plane's entries in issue order, planes in creation order. */
  entries(): QueryLogEntry[] {
    return this.planes.flatMap((p) => flatten(p.entries));
  }

  /** A plane's handle: its queries run in this pool and are logged under its name. */
  plane(name: string): PlaneQueries {
    const log = { name, entries: [] as LogSlot[] };
    this.planes.push(log);
    return this.handle(name, log.entries);
  }

  private handle(name: string, entries: LogSlot[]): PlaneQueries {
    const log = { entries };
    const slot = () => log.entries.push(undefined) - 1;
    return {
      run: async (query) => {
        const i = slot();
        const started = Date.now();
        const res = await this.call((bt, signal) => bt.sql(query, { signal }));
        const rows = res.data as Row[];
        log.entries[i] = { plane: name, query, rows: rows.length, ms: Date.now() - started };
        return rows;
      },
      pages: async (base, pageSize, maxRows) => {
        const i = slot();
        const started = Date.now();
        // Newest first: when the cap cuts the read short, the sample is the most recent rows. The pages of one
        // read follow each other (each needs the previous cursor), so the read holds one slot of the pool.
        const res = await this.call((bt, signal) => bt.sqlPages(base, { signal, pageSize, maxRows, order: 'desc' }));
        const rows = res.data as Row[];
        log.entries[i] = { plane: name, query: base, rows: rows.length, ms: Date.now() - started, requests: res.requests, truncated: res.truncated };
        return { rows, truncated: res.truncated };
      },
      call: (fn, opts) => this.call(fn, opts),
      branch: () => {
        const sub: LogSlot[] = [];
        log.entries.push(sub);
        return this.handle(name, sub);
      },
    };
  }

  /** Runs `fn` when a slot is free; the first failure stops the pool. */
  call<T>(fn: (bt: BtClient, signal: AbortSignal) => Promise<T>, opts: { optional?: boolean } = {}): Promise<T> {
    const p = this.acquire().then(async () => {
      try {
        if (this.stop.signal.aborted) throw this.stopped();
        return await fn(this.bt, this.stop.signal);
      } catch (err) {
        if (this.firstError === undefined && !(opts.optional && !this.stop.signal.aborted)) {
          this.firstError = err;
          this.stop.abort();
        }
        throw err;
      } finally {
        this.release();
      }
    });
    this.calls.add(p);
    void p.then(
      () => this.calls.delete(p),
      () => this.calls.delete(p),
    );
    return p;
  }

  /** Resolves once no call is queued or running (after `abort`, that is as soon as running processes are killed). */
  async drain(): Promise<void> {
    while (this.calls.size) await Promise.allSettled([...this.calls]);
  }

  private stopped(): BtError {
    return new BtError({ kind: 'cancelled', what: 'bt (discover)', cause: 'not started: discover was cancelled or another query failed', command: [] });
  }

  private acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      this.peak = Math.max(this.peak, this.active);
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.queue.push(() => {
        this.active++;
        this.peak = Math.max(this.peak, this.active);
        resolve();
      }),
    );
  }

  private release(): void {
    this.active--;
    this.queue.shift()?.();
  }
}
