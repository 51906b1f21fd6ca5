/**
 * The one place that spawns `bt`: argument array (no shell), explicit environment, stdin ignored
 * unless input is given, a timeout, the caller's cancellation signal, heartbeats while it runs,
 * and a process-group kill so `bt eval`'s runner children never outlive a timeout or cancel.
 */
import { execa, type ResultPromise } from 'execa';
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BtError, firstErrorLine, stderrTail, stripAnsi, truncate } from './errors.js';
import { killGroup, terminateGroup, waitForGroupExit } from '../process-group.js';
import { releaseGroup, watchGroup } from '../process-reaper.js';

export interface BtHeartbeat {
  /** e.g. "bt eval" */
  command: string;
  elapsedMs: number;
  /** Last non-empty stderr line (ANSI stripped, ≤200 chars): bt eval progress. */
  lastStderrLine?: string;
}

export interface RunOptions {
  signal?: AbortSignal | undefined;
  timeoutMs: number;
  cwd?: string | undefined;
  /** Sent on stdin; otherwise stdin is ignored. */
  input?: string | undefined;
  /** How many leading argv entries name the command (for messages), e.g. 2 for `datasets view`. */
  commandWords: number;
}

export interface RunContext {
  btPath: string;
  env: Record<string, string>;
  heartbeatIntervalMs: number;
  onHeartbeat?: ((detail: BtHeartbeat) => void) | undefined;
  /** Grace between SIGTERM and SIGKILL to the process group. */
  killGraceMs: number;
  /** Applied to stdout and stderr before anything sees them (heartbeats, errors, the result). */
  redact?: ((text: string) => string) | undefined;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Redacted argv for messages. */
  command: readonly string[];
  what: string;
}

const ARG_MAX_SHOWN = 200;

const resolvedBinaries = new Map<string, string>();

/**
 * The native `bt` behind the npm package's launcher. `node_modules/.bin/bt` of the `braintrust` package is a
 * `#!/usr/bin/env node` script that finds the platform binary and spawns it: a Node start-up (≈40–200 ms, more on a
 * loaded machine) before every bt call. Given that launcher, this returns the binary it would run, found by the
 * package's own helper (`scripts/bt-helper.js`: the platform's optional dependency, else its download fallback), so
 * the binary runs directly with the same argv, environment and exit code. Anything else (a native bt, a wrapper
 * script, a path that does not exist) is returned unchanged, and so is the launcher when the helper cannot name an
 * executable file or `BT_BINARY_PATH` is involved (the launcher reads it from its own environment).
 */
export function resolveBtBinary(btPath: string, childEnv: Readonly<Record<string, string | undefined>> = {}): string {
  if (process.env.BT_BINARY_PATH || childEnv.BT_BINARY_PATH) return btPath;
  const cached = resolvedBinaries.get(btPath);
  if (cached !== undefined) return cached;
  let out = btPath;
  try {
    const real = realpathSync(btPath);
    if (real.endsWith(join('braintrust', 'bin', 'bt')) && startsWith(real, '#!/usr/bin/env node')) {
      const helper = createRequire(real)('../scripts/bt-helper.js') as { getBinaryPath?: () => string };
      const bin = helper.getBinaryPath?.();
      if (typeof bin === 'string' && statSync(bin).isFile() && (statSync(bin).mode & 0o111) !== 0) out = bin;
    }
  } catch {
    // Not resolvable here: run the path as given (the launcher reports its own errors).
  }
  resolvedBinaries.set(btPath, out);
  return out;
}

function startsWith(file: string, prefix: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(prefix.length);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8') === prefix;
  } finally {
    closeSync(fd);
  }
}

/** argv for messages: bt path, then arguments with long ones truncated and secrets removed. */
export function redactArgv(btPath: string, args: readonly string[]): string[] {
  const out = [btPath];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--api-key') {
      out.push(a, '<redacted>');
      i++;
    } else if (a.startsWith('--api-key=')) out.push('--api-key=<redacted>');
    else out.push(truncate(a, ARG_MAX_SHOWN));
  }
  return out;
}

const GROUP_EXIT_WAIT_MS = 3_000;

/**
 * Runs bt and resolves with its output whatever the exit code; throws `BtError` only for
 * failures that are not bt's own exit: missing binary, timeout, cancellation, output too large.
 */
export async function runBt(ctx: RunContext, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const command = redactArgv(ctx.btPath, args);
  const what = ['bt', ...args.slice(0, opts.commandWords)].join(' ');
  const fail = (kind: 'timeout' | 'cancelled' | 'missing_binary' | 'schema', cause: string, stderr = '', exitCode?: number, cause_?: unknown) =>
    new BtError({ kind, what, cause, command, exitCode, stderrTail: stderrTail(stderr), cause_ });

  if (opts.signal?.aborted) throw fail('cancelled', 'cancelled before it started');

  const stop = new AbortController();
  let stoppedBy: 'timeout' | 'cancelled' | undefined;
  const onAbort = () => {
    stoppedBy ??= 'cancelled';
    stop.abort();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    stoppedBy ??= 'timeout';
    stop.abort();
  }, opts.timeoutMs);

  const started = Date.now();
  let lastStderrLine: string | undefined;
  const beat = () => {
    if (!ctx.onHeartbeat) return;
    const detail: BtHeartbeat = { command: what, elapsedMs: Date.now() - started };
    if (lastStderrLine !== undefined) detail.lastStderrLine = lastStderrLine;
    try {
      ctx.onHeartbeat(detail);
    } catch {
      // A heartbeat failure must not kill the command.
    }
  };
  const heartbeat = ctx.onHeartbeat ? setInterval(beat, ctx.heartbeatIntervalMs) : undefined;

  let subprocess: ResultPromise | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  stop.signal.addEventListener(
    'abort',
    () => {
      // bt (and bt eval's tsx children) run in their own process group: end the whole group.
      graceTimer = terminateGroup(subprocess?.pid, ctx.killGraceMs);
    },
    { once: true },
  );

  try {
    // The npm launcher (a Node script) is skipped for the binary it would run: one process start instead of two.
    subprocess = execa(resolveBtBinary(ctx.btPath, ctx.env), args, {
      env: withoutUnusedTrustStore(ctx.env, args),
      extendEnv: false,
      cwd: opts.cwd,
      detached: true,
      reject: false,
      cancelSignal: stop.signal,
      forceKillAfterDelay: ctx.killGraceMs,
      maxBuffer: 256 * 1024 * 1024,
      stripFinalNewline: false,
      ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
      stderr: [
        function* (line: unknown) {
          const text = stripAnsi(String(line)).trim();
          if (text) lastStderrLine = truncate(ctx.redact ? ctx.redact(text) : text, 200);
          yield line;
        },
      ],
    });
    // Ended by the worker's reaper if the worker dies first (SIGKILL): bt eval never outlives its activity.
    watchGroup(subprocess.pid);
    const result = await subprocess;
    const clean = ctx.redact ?? ((t: string) => t);
    const stdout = clean(String(result.stdout ?? ''));
    const stderr = clean(String(result.stderr ?? ''));
    if (stoppedBy === 'timeout')
      throw fail('timeout', `no result within ${opts.timeoutMs} ms; the process group was killed`, stderr, result.exitCode);
    if (stoppedBy === 'cancelled') throw fail('cancelled', 'cancelled; the process group was killed', stderr, result.exitCode);
    if (result.isMaxBuffer) throw fail('schema', 'output exceeded 256 MiB', stderr, result.exitCode);
    const code = (result as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR')
      throw fail('missing_binary', `cannot execute ${ctx.btPath} (${code})`, stderr, undefined, result);
    if (result.exitCode === undefined) {
      // Killed by a signal nobody here sent (OOM killer, operator): transient as far as we know.
      const detail = firstErrorLine(stderr);
      throw new BtError({
        kind: 'unknown',
        what,
        cause: `bt was killed by ${result.signal ?? 'a signal'}${detail ? ': ' + detail : ''}`,
        command,
        stderrTail: stderrTail(stderr),
      });
    }
    return { stdout, stderr, exitCode: result.exitCode, command, what };
  } finally {
    clearTimeout(timer);
    if (heartbeat) clearInterval(heartbeat);
    opts.signal?.removeEventListener('abort', onAbort);
    if (stoppedBy !== undefined) {
      // Whatever survived the grace period (a runner that ignored SIGTERM) goes now, and we
      // return only once the group is gone, so a cancelled activity leaves nothing behind.
      if (graceTimer) clearTimeout(graceTimer);
      killGroup(subprocess?.pid, 'SIGKILL');
      await waitForGroupExit(subprocess?.pid, GROUP_EXIT_WAIT_MS);
    }
    releaseGroup(subprocess?.pid);
  }
}

/** Commands that make HTTP requests to the Braintrust endpoints only (never run user code, never another host). */
const API_ONLY_COMMANDS = new Set(['status', 'projects', 'experiments', 'sql', 'view', 'datasets', 'sync']);
const API_ONLY_FUNCTIONS = new Set(['list', 'view', 'invoke']);
const PROXY_KEYS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'];

/**
 * The environment one bt command runs with. Before its first request bt reads the whole system trust store (the CA
 * bundle and then every file in /etc/ssl/certs, ~300 files: about 20 ms of a 45 ms `bt sql` here). When both
 * Braintrust endpoints are plain `http://` (the local server) and no proxy is set, an API-only command makes no
 * TLS connection at all, so it gets an empty trust store (`SSL_CERT_FILE=/dev/null`, no `SSL_CERT_DIR`). Never for
 * `bt eval` or `bt functions push`: they run the user's code with this environment, which may call a provider over
 * https. Against an https endpoint nothing changes.
 */
export function withoutUnusedTrustStore(env: Record<string, string>, args: readonly string[]): Record<string, string> {
  const plainHttp = (v: string | undefined) => v !== undefined && /^http:\/\//i.test(v.trim());
  const apiOnly = API_ONLY_COMMANDS.has(args[0] ?? '') || (args[0] === 'functions' && API_ONLY_FUNCTIONS.has(args[1] ?? ''));
  if (!apiOnly || !plainHttp(env.BRAINTRUST_API_URL) || !plainHttp(env.BRAINTRUST_APP_URL) || PROXY_KEYS.some((k) => env[k])) return env;
  const { SSL_CERT_DIR: _dir, ...rest } = env;
  return { ...rest, SSL_CERT_FILE: '/dev/null' };
}

/** Builds the child environment: drops undefined values and empty BRAINTRUST_* values (never an empty key). */
export function buildChildEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (k.startsWith('BRAINTRUST_') && v.trim() === '') continue;
    out[k] = v;
  }
  // node_modules/.bin/bt is a `#!/usr/bin/env node` launcher: make sure node is found.
  const nodeDir = dirname(process.execPath);
  if (!out.PATH) out.PATH = [nodeDir, '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  else if (!out.PATH.split(':').includes(nodeDir)) out.PATH = `${out.PATH}:${nodeDir}`;
  out.NO_COLOR ??= '1';
  return out;
}

/** Variables worth forwarding from a process environment to bt (explicitly, never the whole env). */
export const FORWARDED_ENV_KEYS = [
  'BRAINTRUST_API_KEY',
  'BRAINTRUST_APP_URL',
  'BRAINTRUST_API_URL',
  'BRAINTRUST_ORG_NAME',
  'BRAINTRUST_CA_CERT',
  'HOME',
  'XDG_CONFIG_HOME',
  'XDG_CACHE_HOME',
  'PATH',
  'TMPDIR',
  'LANG',
  'SSL_CERT_FILE',
] as const;

/** Picks `FORWARDED_ENV_KEYS` from `source` (default `process.env`). */
export function btEnvFrom(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of FORWARDED_ENV_KEYS) {
    const v = source[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}
