/**
 * The local server as a background process shared by CLI invocations.
 *
 * DuckDB allows one process per database file, so the daemon owns `<home>/braintrust-local.duckdb`
 * and everything else (including seeding) goes through its HTTP API. `<home>/local-server.json`
 * (mode 0600) records {pid, port, apiKey, dataFile, …}; the API key is generated once and reused.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ORG_NAME, btEnvFor, generateApiKey } from './index.js';
import type { LocalServerHandle, SeedResult } from './types.js';

export const STATE_FILE_NAME = 'local-server.json';
export const DATA_FILE_NAME = 'braintrust-local.duckdb';
export const LOG_FILE_NAME = 'local-server.log';

export interface LocalServerState {
  pid?: number;
  port?: number;
  apiKey: string;
  dataFile: string;
  orgName?: string;
  appUrl?: string;
  apiUrl?: string;
  startedAt?: string;
}

/** A running background server: what an in-process handle offers, plus its process. */
export interface LocalServerInfo extends Pick<LocalServerHandle, 'appUrl' | 'apiUrl' | 'apiKey' | 'orgName' | 'dataFile' | 'port' | 'btEnv'> {
  pid: number;
  /** True when this call started the process, false when it reused a running one. */
  started: boolean;
}

export interface EnsureOptions {
  /** The `.flywheel` directory (state, data file and log live here). */
  home: string;
  /** Port to listen on; default: the port used last time, else a random free one. */
  port?: number;
  /** How long to wait for the process to become healthy (ms, default 30000). */
  timeoutMs?: number;
}

export function stateFilePath(home: string): string {
  return join(home, STATE_FILE_NAME);
}

export function readState(home: string): LocalServerState | undefined {
  const file = stateFilePath(home);
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as LocalServerState;
    return typeof s.apiKey === 'string' && typeof s.dataFile === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

function writeState(home: string, state: LocalServerState): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = stateFilePath(home);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** GET /version with the key; true when the server answers 200. */
export async function checkHealth(url: string, apiKey: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/version`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function toInfo(state: LocalServerState, started: boolean): LocalServerInfo {
  const url = state.appUrl ?? `http://127.0.0.1:${state.port}`;
  const info = {
    appUrl: url,
    apiUrl: state.apiUrl ?? url,
    apiKey: state.apiKey,
    orgName: state.orgName ?? DEFAULT_ORG_NAME,
    dataFile: state.dataFile,
    port: state.port ?? 0,
    pid: state.pid ?? 0,
    started,
  };
  return { ...info, btEnv: () => btEnvFor(info) };
}

/** How to run main.ts/main.js with this Node binary: compiled JS directly, sources through tsx. */
function entryCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  const dir = dirname(here);
  if (here.endsWith('.js') && existsSync(join(dir, 'main.js'))) return [join(dir, 'main.js')];
  const tsx = import.meta.resolve('tsx');
  return ['--import', tsx, join(dir, 'main.ts')];
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function logTail(home: string): string {
  try {
    return readFileSync(join(home, LOG_FILE_NAME), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

async function spawnDaemon(home: string, state: LocalServerState, port: number, timeoutMs: number): Promise<LocalServerState> {
  const log = openSync(join(home, LOG_FILE_NAME), 'a');
  const args = [
    ...entryCommand(),
    '--data-file', state.dataFile,
    '--state-file', stateFilePath(home),
    '--port', String(port),
    '--org-name', state.orgName ?? DEFAULT_ORG_NAME,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, BT_LOCAL_SERVER_API_KEY: state.apiKey };
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env, cwd: home });
  closeSync(log);
  let exited: number | null = null;
  child.on('exit', (code) => {
    exited = code ?? 1;
  });
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`local server exited with code ${exited} during startup:\n${logTail(home)}`);
    const s = readState(home);
    if (s && s.pid === child.pid && s.port && (await checkHealth(s.appUrl ?? `http://127.0.0.1:${s.port}`, s.apiKey))) return s;
    await sleep(150);
  }
  try {
    if (child.pid) process.kill(child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  throw new Error(`local server did not become healthy within ${timeoutMs} ms:\n${logTail(home)}`);
}

/**
 * Whether `pid` is this home's local server: a node process running the local server's entry with this
 * home's state file. A stale record (after a reboot the pid may belong to anything) is never signalled.
 */
export function isOurLocalServer(pid: number | undefined, home: string): boolean {
  if (!alive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('--state-file') && cmdline.includes(stateFilePath(home));
  } catch {
    return process.platform !== 'linux'; // no /proc (macOS): trust the record
  }
}

/** Reuses the running local server recorded in `<home>/local-server.json`, or starts one in the background. */
export async function ensureLocalServer(opts: EnsureOptions): Promise<LocalServerInfo> {
  const home = opts.home;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const prev = readState(home);
  if (prev?.pid && isOurLocalServer(prev.pid, home) && prev.port && (opts.port === undefined || opts.port === 0 || opts.port === prev.port)) {
    if (await checkHealth(prev.appUrl ?? `http://127.0.0.1:${prev.port}`, prev.apiKey)) return toInfo(prev, false);
  }
  if (prev?.pid && isOurLocalServer(prev.pid, home)) {
    // A process that is alive but unhealthy or on another port still owns the data file: stop it first.
    await stopLocalServer(home);
  }
  const state: LocalServerState = {
    apiKey: prev?.apiKey ?? generateApiKey(),
    dataFile: prev?.dataFile ?? join(home, DATA_FILE_NAME),
    orgName: prev?.orgName ?? DEFAULT_ORG_NAME,
    ...(prev?.port ? { port: prev.port } : {}),
  };
  writeState(home, state);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const wanted = opts.port ?? prev?.port ?? 0;
  try {
    return toInfo(await spawnDaemon(home, state, wanted, timeoutMs), true);
  } catch (e) {
    // The port remembered from last time may be taken now; only an explicit --port is binding.
    if (opts.port === undefined && wanted !== 0 && /EADDRINUSE/.test((e as Error).message)) {
      return toInfo(await spawnDaemon(home, state, 0, timeoutMs), true);
    }
    throw e;
  }
}

/** Stops the background server (SIGTERM, then SIGKILL after 10 s). Keeps the API key for next time. */
export async function stopLocalServer(home: string): Promise<{ stopped: boolean; pid?: number }> {
  const s = readState(home);
  if (!s?.pid || !isOurLocalServer(s.pid, home)) {
    // Gone, or the pid now belongs to another process (a stale record): forget it, signal nothing.
    if (s?.pid) writeState(home, { ...s, pid: undefined } as LocalServerState);
    return { stopped: false };
  }
  const pid = s.pid;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(50);
  }
  const { pid: _pid, startedAt: _startedAt, ...rest } = s;
  writeState(home, rest);
  return { stopped: true, pid };
}

/** Status of the recorded server without starting anything. */
export async function localServerStatus(home: string): Promise<(LocalServerInfo & { healthy: boolean }) | undefined> {
  const s = readState(home);
  if (!s?.pid || !s.port || !isOurLocalServer(s.pid, home)) return undefined;
  const info = toInfo(s, false);
  return { ...info, healthy: await checkHealth(info.appUrl, info.apiKey) };
}

/** Seeds a `bt sync pull` directory into a running server through its admin route. */
export async function seedLocalServer(
  info: Pick<LocalServerInfo, 'appUrl' | 'apiKey'>,
  dir: string,
  opts: { projectName?: string } = {},
): Promise<SeedResult> {
  const res = await fetch(`${info.appUrl}/local/seed`, {
    method: 'POST',
    headers: { authorization: `Bearer ${info.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ dir: resolve(dir), ...(opts.projectName ? { projectName: opts.projectName } : {}) }),
  });
  const text = await res.text();
  if (!res.ok) {
    let msg = text;
    try {
      msg = (JSON.parse(text) as { Message?: string }).Message ?? text;
    } catch {
      // raw text
    }
    throw new Error(`seeding failed (${res.status}): ${msg}`);
  }
  return JSON.parse(text) as SeedResult;
}
