/**
 * Process groups: bt (with its tsx/python eval runners), the change agent and the Temporal dev server are
 * spawned `detached`, so each leads a group and one signal reaches its children too.
 */

/** Signals the whole group led by `pid` (falling back to the process alone); a gone group is not an error. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Polls until no process is left in the group, or `maxMs` passes (zombies nobody reaps still count). */
export async function waitForGroupExit(pid: number | undefined, maxMs: number): Promise<void> {
  if (pid === undefined) return;
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    try {
      process.kill(-pid, 0);
    } catch {
      return; // ESRCH: the group is empty.
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** SIGTERM to the group now, SIGKILL after `graceMs` if anything is left. */
export function terminateGroup(pid: number | undefined, graceMs: number): NodeJS.Timeout | undefined {
  if (pid === undefined) return undefined;
  killGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
  timer.unref();
  return timer;
}
