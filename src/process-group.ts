/**
 * Process groups: bt (with its tsx/python eval runners), the change agent and the Temporal dev server are
 * spawned `detached`, so each leads a group and one signal reaches its children too.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

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

// ─── groups across activity attempts ───────────────────────────────────────────────────────────────

/**
 * A process group as a later attempt of the same activity can recognise it: where it runs (host name, boot and pid
 * namespace — a pgid means nothing elsewhere) and when its leader started (so a reused number is not taken for it).
 */
export interface GroupMark {
  pgid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id; null where there is none (then only the host name is compared). */
  boot: string | null;
  /** The pid namespace (/proc/self/ns/pid); null where there is none. */
  pidns: string | null;
  /** The leader's start time (clock ticks since boot, /proc/<pid>/stat field 22); null where there is none. */
  start: number | null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

let machine: { boot: string | null; pidns: string | null } | null = null;
function thisMachine(): { boot: string | null; pidns: string | null } {
  if (!machine) {
    let pidns: string | null = null;
    try {
      pidns = readlinkSync('/proc/self/ns/pid');
    } catch {
      /* not Linux */
    }
    machine = { boot: readText('/proc/sys/kernel/random/boot_id')?.trim() || null, pidns };
  }
  return machine;
}

/** /proc/<pid>/stat: state, process group and start time (the fields after the parenthesised command). */
function procStat(pid: number): { state: string; pgid: number; start: number } | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0]!, pgid: Number(rest[2]), start: Number(rest[19]) };
}

/** The mark of the group `pid` leads, now. */
export function markGroup(pid: number): GroupMark {
  const { boot, pidns } = thisMachine();
  return { pgid: pid, host: hostname(), boot, pidns, start: procStat(pid)?.start ?? null };
}

/** Members of group `pgid` that are not zombies (a zombie holds nothing and dies with its parent's wait). */
export function liveMembers(pgid: number): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    // No /proc: the kernel's answer, zombies included.
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const out: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s && s.pgid === pgid && s.state !== 'Z') out.push(Number(name));
  }
  return out;
}

/**
 * Whether `mark` is a group of this machine that still has live members. The number of a group cannot be reused
 * while any member is alive, so a live group without its leader is the same group; with its leader present, the
 * leader's start time must match.
 */
export function isLiveHere(mark: GroupMark): boolean {
  const here = thisMachine();
  if (mark.host !== hostname() || (mark.boot && here.boot && mark.boot !== here.boot) || (mark.pidns && here.pidns && mark.pidns !== here.pidns)) return false;
  if (!Number.isInteger(mark.pgid) || mark.pgid <= 1 || mark.pgid === process.pid) return false;
  const leader = procStat(mark.pgid);
  if (leader && (leader.pgid !== mark.pgid || (mark.start !== null && leader.start !== mark.start))) return false;
  return liveMembers(mark.pgid).length > 0;
}

/**
 * Ends `mark`'s group if it is still alive on this machine: SIGTERM, SIGKILL after `graceMs`, and returns once no
 * live member is left (or `maxMs` passed). True when it had to end something.
 */
export async function endGroupIfAlive(mark: GroupMark, graceMs = 2_000, maxMs = 10_000): Promise<boolean> {
  if (!isLiveHere(mark)) return false;
  killGroup(mark.pgid, 'SIGTERM');
  const deadline = Date.now() + maxMs;
  let killed = false;
  const started = Date.now();
  while (Date.now() < deadline && liveMembers(mark.pgid).length) {
    if (!killed && Date.now() - started >= graceMs) {
      killGroup(mark.pgid, 'SIGKILL');
      killed = true;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  if (liveMembers(mark.pgid).length) killGroup(mark.pgid, 'SIGKILL');
  return true;
}
