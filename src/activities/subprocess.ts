/**
 * Runs a long child process for an activity (change agent, labeler): argument array, no shell, stdin given,
 * heartbeats while it runs, a time limit, and cancellation that kills the whole process group.
 */
import { CancelledFailure } from '@temporalio/common';
import { execa } from 'execa';
import { terminateGroup, waitForGroupExit } from '../process-group.js';
import { releaseGroup, watchGroup } from '../process-reaper.js';

export interface SubprocessOptions {
  argv: readonly string[];
  cwd: string;
  input?: string;
  env?: Record<string, string | undefined>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called every few seconds while the process runs. */
  heartbeat?: (detail: { elapsedMs: number; stdoutBytes: number }) => void;
  heartbeatEveryMs?: number;
}

export interface SubprocessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
}

export class SubprocessError extends Error {
  constructor(
    message: string,
    readonly kind: 'missing_binary' | 'timeout' | 'cancelled' | 'failed',
  ) {
    super(message);
    this.name = 'SubprocessError';
  }
}

/** Keeps the last `max` characters of a text, prefixed by an ellipsis when cut. */
export function tail(text: string, max = 2000): string {
  return text.length <= max ? text : '…' + text.slice(text.length - max);
}

export async function runSubprocess(opts: SubprocessOptions): Promise<SubprocessResult> {
  const [file, ...args] = opts.argv;
  if (!file) throw new SubprocessError('empty command', 'failed');
  const started = Date.now();
  const child = execa(file, args, {
    cwd: opts.cwd,
    input: opts.input ?? '',
    env: opts.env,
    extendEnv: opts.env === undefined,
    reject: false,
    detached: true, // own process group, so cancellation reaches grandchildren too
    stripFinalNewline: false,
    maxBuffer: 64 * 1024 * 1024,
  });
  // Ended by the worker's reaper if the worker dies first (SIGKILL): the child never outlives its activity.
  watchGroup(child.pid);
  let stdoutBytes = 0;
  child.stdout?.on('data', (chunk: Buffer) => (stdoutBytes += chunk.length));
  let timedOut = false;
  let cancelled = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const stop = () => (graceTimer ??= terminateGroup(child.pid, 3000));
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, opts.timeoutMs);
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const hb = setInterval(() => opts.heartbeat?.({ elapsedMs: Date.now() - started, stdoutBytes }), opts.heartbeatEveryMs ?? 5000);
  try {
    const result = await child;
    // Grandchildren outlive the leader for a moment: return only once the group is gone.
    if (cancelled || timedOut) await waitForGroupExit(child.pid, 3000);
    const code = (result as { code?: string }).code;
    if (code === 'ENOENT') {
      throw new SubprocessError(
        `command not found: '${file}'. Check the configured command (it runs without a shell, so give the program and its arguments separately) and that it is on PATH.`,
        'missing_binary',
      );
    }
    // Temporal reports an activity that throws CancelledFailure as cancelled (not failed).
    if (cancelled) throw new CancelledFailure(`'${file}' was cancelled; its process group was killed`);
    if (timedOut) throw new SubprocessError(`'${file}' ran longer than ${Math.round(opts.timeoutMs / 1000)} s and was stopped`, 'timeout');
    return {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      timedOut,
      cancelled,
      durationMs: Date.now() - started,
    };
  } finally {
    clearTimeout(timer);
    clearInterval(hb);
    opts.signal?.removeEventListener('abort', onAbort);
    releaseGroup(child.pid);
  }
}
