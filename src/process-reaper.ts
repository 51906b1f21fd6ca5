/**
 * Children never outlive their worker. bt (with bt eval's runners), the change agent and the labeler run in their
 * own process groups (process-group.ts) so that a timeout or a cancel reaches grandchildren; the flip side is that
 * a worker killed outright (SIGKILL, OOM killer, a crashed host process) would leave them running, still writing
 * to Braintrust, while Temporal retries the activity on another worker.
 *
 * So each worker process keeps one small reaper process beside it, fed the groups it starts over a pipe. The
 * reaper waits for that pipe to close — which the kernel does when the worker dies, however it dies — and then
 * ends every group still registered (SIGTERM, SIGKILL after a grace). It ignores SIGINT/SIGTERM (a Ctrl-C reaches
 * the worker, whose graceful shutdown closes the pipe), leads its own process group (a kill of the worker's group
 * does not take it along) and is unref'd, so it never keeps the worker alive.
 */
import { type ChildProcess, spawn } from 'node:child_process';

const GRACE_MS = 2_000;

const SCRIPT = `
const groups = new Set();
let buf = '';
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('SIGHUP', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const pid = Number(line.slice(1));
    if (!Number.isInteger(pid) || pid <= 1) continue;
    if (line[0] === '+') groups.add(pid);
    else if (line[0] === '-') groups.delete(pid);
  }
});
const signal = (sig) => { for (const g of groups) { try { process.kill(-g, sig); } catch {} } };
const done = () => {
  if (groups.size === 0) process.exit(0);
  signal('SIGTERM');
  setTimeout(() => { signal('SIGKILL'); process.exit(0); }, ${GRACE_MS});
};
process.stdin.on('end', done);
process.stdin.on('error', done);
`;

let reaper: ChildProcess | null = null;
let broken = false;

function ensureReaper(): ChildProcess | null {
  if (reaper || broken) return reaper;
  try {
    const child = spawn(process.execPath, ['--max-old-space-size=16', '-e', SCRIPT], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      env: { PATH: process.env.PATH ?? '' },
    });
    child.on('error', () => {
      broken = true;
      reaper = null;
    });
    child.on('exit', () => {
      if (reaper === child) reaper = null;
    });
    child.stdin!.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    reaper = child;
    return child;
  } catch {
    broken = true; // no reaper is a lost safety net, never a failed activity
    return null;
  }
}

/** The reaper's pid (started on first use), or null when it could not be started. For tests. */
export function reaperPid(): number | null {
  return ensureReaper()?.pid ?? null;
}

let observer: ((pid: number) => void) | null = null;

/**
 * Called with each group's leader pid as it is registered, in the caller's async context (so an activity can note
 * the groups it started: src/activities/attempt-groups.ts). One observer; a failing one is ignored.
 */
export function observeGroupStarts(fn: ((pid: number) => void) | null): void {
  observer = fn;
}

/** Registers a process group (led by `pid`) to be ended if this process dies before `releaseGroup(pid)`. */
export function watchGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  ensureReaper()?.stdin?.write(`+${pid}\n`);
  try {
    observer?.(pid);
  } catch {
    /* noting a group must never fail the spawn */
  }
}

/** The group has ended (or no longer needs watching). */
export function releaseGroup(pid: number | undefined): void {
  if (pid === undefined || !reaper) return;
  reaper.stdin?.write(`-${pid}\n`);
}
