/**
 * Fault injection for the local server (tests of the flywheel on the real parts: issue 9 item 10).
 *
 * Off by default and settable only in-process, through `LocalServerHandle.faults`: there is no HTTP route for
 * it, so nothing that can reach the port can turn it on. A fault applies only to requests that passed the
 * server's normal checks (the API key), so it never lets through a request the server would refuse; it only
 * makes an accepted request fail, or answer late, the way the real service (or a gateway in front of it) does:
 *
 * - `status`: the service's JSON error body `{"Code","Message"}` (bt prints it as
 *   `request failed (<code> <Reason>): <body>`, shared/reference/bt-cli.md §2-§3) with that status; 429 and 503
 *   carry `Retry-After` (RFC 9110 §10.2.3: delay-seconds).
 * - `slowMs`: the answer (normal, or the fault's) is held back this long.
 * - `malformed`: 200 with `content-type: application/json` and a body cut off mid-document, as a proxy that
 *   dropped the connection's tail would deliver it.
 */

export type FaultStatus = 401 | 403 | 429 | 500 | 502 | 503;

export interface FaultSpec {
  /** Answer matching requests with this status and a JSON error body. */
  status?: FaultStatus;
  /** Hold every matching answer back this long (ms), before the fault's or the normal answer. */
  slowMs?: number;
  /** Answer matching requests 200 with a truncated JSON body. */
  malformed?: boolean;
  /**
   * Which requests: a RegExp tested against `"<METHOD> <path>"` (e.g. /^POST \/btql$/), or a path prefix
   * (e.g. '/btql', '/logs3'). Default: every authorized request.
   */
  routes?: RegExp | string;
  /** Fault at most this many matching requests, then switch off. Default: until `clear()`. */
  count?: number;
  /** `Retry-After` seconds on 429/503 (default 1). */
  retryAfterSeconds?: number;
}

/** What the server does with one request: nothing, or the fault to apply. */
export interface FaultDecision {
  slowMs: number;
  status?: FaultStatus;
  malformed: boolean;
  retryAfterSeconds: number;
}

export interface FaultHit {
  at: string;
  request: string;
  fault: 'status' | 'slow' | 'malformed';
  status?: number;
}

/** The switch on a LocalServerHandle. */
export interface FaultSwitch {
  /** Replaces the active fault (validated: a bad spec throws). */
  set(spec: FaultSpec): void;
  /** Turns faults off; returns how many requests the last spec faulted. */
  clear(): number;
  /** The active spec, or null. */
  readonly active: FaultSpec | null;
  /** Requests faulted since the server started (all specs), newest last, at most 1000 kept. */
  readonly hits: readonly FaultHit[];
}

const STATUSES = new Set<number>([401, 403, 429, 500, 502, 503]);
const MAX_HITS = 1000;

export class Faults implements FaultSwitch {
  private spec: FaultSpec | null = null;
  private left = Infinity;
  private faulted = 0;
  private readonly log: FaultHit[] = [];

  get active(): FaultSpec | null {
    return this.spec;
  }

  get hits(): readonly FaultHit[] {
    return this.log;
  }

  set(spec: FaultSpec): void {
    if (spec.status !== undefined && !STATUSES.has(spec.status)) throw new Error(`fault status must be one of ${[...STATUSES].join(', ')}`);
    if (spec.status !== undefined && spec.malformed) throw new Error('a fault is either a status or a malformed body, not both');
    if (spec.slowMs !== undefined && !(Number.isFinite(spec.slowMs) && spec.slowMs >= 0)) throw new Error('slowMs must be a number ≥ 0');
    if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count > 0)) throw new Error('count must be a positive integer');
    if (spec.status === undefined && !spec.malformed && !spec.slowMs) throw new Error('a fault needs status, malformed or slowMs');
    this.spec = { ...spec };
    this.left = spec.count ?? Infinity;
    this.faulted = 0;
  }

  clear(): number {
    const n = this.faulted;
    this.spec = null;
    this.left = Infinity;
    this.faulted = 0;
    return n;
  }

  /** Called by the server once per authorized request; null when the request is left alone. */
  decide(method: string, path: string): FaultDecision | null {
    const spec = this.spec;
    if (!spec || this.left <= 0) return null;
    const request = `${method} ${path}`;
    const r = spec.routes;
    if (r !== undefined && !(typeof r === 'string' ? path.startsWith(r) : (r.lastIndex = 0, r.test(request)))) return null;
    this.left--;
    this.faulted++;
    if (this.left <= 0) this.spec = null;
    const fault: FaultHit['fault'] = spec.status !== undefined ? 'status' : spec.malformed ? 'malformed' : 'slow';
    this.log.push({ at: new Date().toISOString(), request, fault, ...(spec.status !== undefined ? { status: spec.status } : {}) });
    if (this.log.length > MAX_HITS) this.log.splice(0, this.log.length - MAX_HITS);
    return {
      slowMs: spec.slowMs ?? 0,
      ...(spec.status !== undefined ? { status: spec.status } : {}),
      malformed: spec.malformed === true,
      retryAfterSeconds: spec.retryAfterSeconds ?? 1,
    };
  }
}

/** The JSON error body (`Code`, `Message`) the service sends with each status. */
export function faultBody(status: FaultStatus): { Code: string; Message: string } {
  switch (status) {
    case 401:
      return { Code: 'Unauthorized', Message: 'Invalid API key (injected fault)' };
    case 403:
      return { Code: 'Forbidden', Message: 'The API key may not access this organization (injected fault)' };
    case 429:
      return { Code: 'TooManyRequests', Message: 'Rate limit exceeded; retry after the Retry-After delay (injected fault)' };
    case 500:
      return { Code: 'InternalError', Message: 'Internal server error (injected fault)' };
    case 502:
      return { Code: 'BadGateway', Message: 'Bad gateway (injected fault)' };
    case 503:
      return { Code: 'ServiceUnavailable', Message: 'Service temporarily unavailable (injected fault)' };
  }
}

/** A JSON document cut off mid-way: what a client sees when a response loses its tail. */
export const MALFORMED_BODY = '{"data":[{"id":"';
