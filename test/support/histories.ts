/**
 * Saves a run's history as a replay fixture when RECORD_HISTORIES=1 (see test/replay.test.ts).
 *
 * Append-only: the fixtures are how CI proves that runs in flight when a release ships still replay on the new
 * code, so a recording never replaces one. It is written as `<name>@<package version>.json`; when that file exists
 * (already recorded for this release) nothing is written.
 *
 * RECORD_HISTORIES_DIR=<dir> records into that directory instead (measuring history sizes of the working tree,
 * bench/BENCHMARKS.md), never into test/histories/.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { packageRoot } from '../../src/paths.js';

export const HISTORIES_DIR = join(packageRoot, 'test', 'histories');

export async function historyJson(client: Client, workflowId: string): Promise<string> {
  return historyToJSON(await client.workflow.getHandle(workflowId).fetchHistory());
}

/** The fixture file a recording of `name` goes to for this release (in `dir`, default test/histories/). */
export function historyFileFor(name: string, dir: string = HISTORIES_DIR): string {
  const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  return join(dir, `${name}@${version}.json`);
}

export async function maybeRecordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  const measureDir = process.env.RECORD_HISTORIES_DIR;
  if (measureDir) {
    if (resolve(measureDir) === resolve(HISTORIES_DIR)) throw new Error('RECORD_HISTORIES_DIR must not be test/histories/ (use npm run record-histories)');
    mkdirSync(measureDir, { recursive: true });
    writeFileSync(historyFileFor(name, measureDir), await historyJson(client, workflowId));
    return;
  }
  if (process.env.RECORD_HISTORIES !== '1') return;
  const file = historyFileFor(name);
  if (existsSync(file)) {
    process.stderr.write(`[histories] ${file} exists: kept (fixtures are append-only; bump the package version to record a new one)\n`);
    return;
  }
  writeFileSync(file, await historyJson(client, workflowId), { flag: 'wx' });
}

/** One activity of a history with its decoded input and result (JSON payloads), in scheduling order. */
export interface ActivityPayloads {
  activity: string;
  input: unknown[];
  result: unknown;
}

/** The activities of an exported history (historyJson's text) with their payloads decoded. */
export function activityPayloads(json: string): ActivityPayloads[] {
  type Payloads = { payloads?: { data?: string }[] } | undefined;
  const decode = (p: Payloads): unknown[] => (p?.payloads ?? []).map((x) => (x.data ? JSON.parse(Buffer.from(x.data, 'base64').toString('utf8')) : null));
  const events = (JSON.parse(json) as { events: Record<string, { activityType?: { name: string }; input?: Payloads; result?: Payloads; scheduledEventId?: string }>[] & { eventId: string }[] }).events;
  const byId = new Map<string, ActivityPayloads>();
  const out: ActivityPayloads[] = [];
  for (const e of events as unknown as Record<string, unknown>[]) {
    const s = e.activityTaskScheduledEventAttributes as { activityType: { name: string }; input?: Payloads } | undefined;
    if (s) {
      const a = { activity: s.activityType.name, input: decode(s.input), result: undefined };
      byId.set(String(e.eventId), a);
      out.push(a);
    }
    const c = e.activityTaskCompletedEventAttributes as { scheduledEventId: string; result?: Payloads } | undefined;
    if (c) {
      const a = byId.get(String(c.scheduledEventId));
      if (a) a.result = decode(c.result)[0];
    }
  }
  return out;
}
