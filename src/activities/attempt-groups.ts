/**
 * A new attempt first ends the previous attempt's process groups (issue 9, idempotent retries).
 *
 * Long activities start detached process groups (bt eval and its runners, the change agent, the labeler). When an
 * attempt ends without ending them — its heartbeats stopped (a stalled or partitioned worker), it failed after the
 * agent's leader exited but left a grandchild running, the worker's reaper could not run — a retry would start a
 * second agent editing the same tree, or a second eval, beside the first. So every group an activity starts is noted
 * in its heartbeat details (`groups`: pgid, host, boot, pid namespace, leader start time), and an attempt > 1 reads
 * the details the previous attempt left, and ends each group still alive on this host (SIGTERM, then SIGKILL) before
 * it starts anything. A group on another host is left to that host's reaper.
 */
import { Context } from '@temporalio/activity';
import { endGroupIfAlive, isLiveHere, liveMembers, markGroup, type GroupMark } from '../process-group.js';
import { observeGroupStarts } from '../process-reaper.js';

/** Groups noted per activity execution, newest last (only those with live members are kept). */
const groupsOf = new WeakMap<Context, GroupMark[]>();
const MAX_GROUPS = 4;

/** The heartbeat detail with this execution's live groups added (`detail` is an object or absent). */
export function withGroups(ctx: Context, detail: unknown): unknown {
  const groups = (groupsOf.get(ctx) ?? []).filter((g) => liveMembers(g.pgid).length > 0);
  groupsOf.set(ctx, groups);
  if (!groups.length) return detail;
  if (detail === undefined || detail === null) return { groups };
  if (typeof detail === 'object' && !Array.isArray(detail)) return { ...(detail as Record<string, unknown>), groups };
  return { detail, groups };
}

/**
 * Notes each group started inside an activity (src/process-reaper.ts calls this in the spawner's async context) and
 * heartbeats at once, so the server holds the group before the attempt can be lost. `send` heartbeats the given
 * execution with its current detail.
 */
export function noteGroupsOfActivities(send: (ctx: Context) => void): void {
  observeGroupStarts((pid) => {
    let ctx: Context;
    try {
      ctx = Context.current();
    } catch {
      return; // not inside an activity
    }
    const groups = [...(groupsOf.get(ctx) ?? []).filter((g) => liveMembers(g.pgid).length > 0), markGroup(pid)].slice(-MAX_GROUPS);
    groupsOf.set(ctx, groups);
    send(ctx);
  });
}

function marksIn(details: unknown): GroupMark[] {
  const groups = (details as { groups?: unknown } | null | undefined)?.groups;
  if (!Array.isArray(groups)) return [];
  return groups.filter(
    (g): g is GroupMark =>
      !!g && typeof g === 'object' && Number.isInteger((g as GroupMark).pgid) && typeof (g as GroupMark).host === 'string',
  );
}

/**
 * On attempt > 1: ends the groups the previous attempt left alive on this host, and returns them (their pgids).
 * Their live members are waited for, so nothing of the old attempt runs once this returns.
 */
export async function endPreviousAttemptGroups(ctx: Context): Promise<number[]> {
  if (ctx.info.attempt <= 1) return [];
  const ended: number[] = [];
  for (const mark of marksIn(ctx.info.heartbeatDetails)) {
    if (!isLiveHere(mark)) continue;
    if (await endGroupIfAlive(mark)) ended.push(mark.pgid);
  }
  if (ended.length) {
    ctx.log.warn(`attempt ${ctx.info.attempt} of ${ctx.info.activityType}: ended the previous attempt's process group(s) ${ended.join(', ')}, still running, before starting again`);
  }
  return ended;
}
