/**
 * What the local-server benchmarks share: serving a seeded DuckDB store to the real `bt`, timing helpers, and
 * writing a benchmark's own marked section of bench/BENCHMARKS.md (never the whole file: every other section is
 * somebody's measurement).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { FAKE_NOW_ENV } from '../src/clock.js';
import { ensureLocalServer, STATE_FILE_NAME, stopLocalServer } from '../src/local-server/daemon.js';
import { btEnvFor, generateApiKey } from '../src/local-server/index.js';
import { LocalApi } from '../src/local-server/server.js';
import type { Store } from '../src/local-server/store.js';
import { packageRoot } from '../src/paths.js';

export const BENCHMARKS_MD = join(packageRoot, 'bench', 'BENCHMARKS.md');
const BENCH_KEY = 'bench-key';

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

/** Load average (1/5/15 min), for the machine line of a report. */
export const loadAverage = (): string => loadavg().map((x) => x.toFixed(2)).join(' / ');

export interface ServedStore {
  url: string;
  /** A closed environment in which `bt` talks to this server (own HOME, no prompts). */
  env: Record<string, string> & { HOME: string };
  close(): Promise<void>;
}

/** Serves `store` on a free port for the real `bt`; `now` pins the server's `NOW()`. */
export async function serveStore(store: Store, dir: string, opts: { now?: () => Date } = {}): Promise<ServedStore> {
  const api = new LocalApi({ store, apiKey: BENCH_KEY, orgName: 'local', ...(opts.now ? { now: opts.now } : {}) });
  const port = await api.listen(0);
  const url = `http://127.0.0.1:${port}`;
  return { url, env: benchBtEnv(dir, btEnvFor({ appUrl: url, apiUrl: url, apiKey: BENCH_KEY, orgName: 'local' })), close: () => api.close() };
}

/** A closed environment in which `bt` talks to the server of `serverEnv` (its BRAINTRUST_* variables), HOME under `dir`. */
export function benchBtEnv(dir: string, serverEnv: Record<string, string>): ServedStore['env'] {
  const home = join(dir, 'home');
  mkdirSync(join(home, 'cfg'), { recursive: true });
  return {
    PATH: `${join(packageRoot, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'cfg'),
    BRAINTRUST_NO_INPUT: '1',
    ...serverEnv,
  };
}

export interface DaemonServer {
  appUrl: string;
  btEnv(): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Serves `dataFile` from the local server's background process, as `flywheel run` does (ensureLocalServer; its state
 * in `daemonHome`), with `NOW()` pinned to `now` when given (FLYWHEEL_FAKE_NOW in its environment only).
 */
export async function startDaemonServer(dataFile: string, daemonHome: string, now?: Date): Promise<DaemonServer> {
  mkdirSync(daemonHome, { recursive: true, mode: 0o700 });
  writeFileSync(join(daemonHome, STATE_FILE_NAME), JSON.stringify({ apiKey: generateApiKey(), dataFile, orgName: 'local' }), { mode: 0o600 });
  const before = process.env[FAKE_NOW_ENV];
  if (now) process.env[FAKE_NOW_ENV] = now.toISOString();
  try {
    const info = await ensureLocalServer({ home: daemonHome });
    return { appUrl: info.appUrl, btEnv: info.btEnv, close: async () => void (await stopLocalServer(daemonHome)) };
  } finally {
    if (before === undefined) delete process.env[FAKE_NOW_ENV];
    else process.env[FAKE_NOW_ENV] = before;
  }
}

/**
 * Puts `md` between `<!-- BEGIN name -->` and `<!-- END name -->` in bench/BENCHMARKS.md, replacing an earlier
 * section of that name, else appending it. Nothing outside the markers changes.
 */
export function writeBenchSection(name: string, md: string, path = BENCHMARKS_MD): void {
  const begin = `<!-- BEGIN ${name} -->`;
  const end = `<!-- END ${name} -->`;
  const section = `${begin}\n${md.trim()}\n${end}`;
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const i = old.indexOf(begin);
  const j = old.indexOf(end, i);
  const next = i >= 0 && j > i ? `${old.slice(0, i)}${section}${old.slice(j + end.length)}` : `${old.trimEnd()}${old ? '\n\n' : ''}${section}\n`;
  writeFileSync(path, next);
}
