/**
 * Where a history's bytes go: prints, for an exported history JSON (as test/support/histories.ts writes it), the
 * bytes per event type, per activity type (input vs result), and the largest payloads.
 *
 *   npx tsx scripts/history-breakdown.ts <history.json> [--top N] [--json]
 *
 * Sizes are of the decoded payload data (JSON text); "event" bytes are each event's pretty JSON as in the file.
 */
import { readFileSync, statSync } from 'node:fs';

interface Payload { metadata?: Record<string, string>; data?: string }
type Ev = Record<string, unknown> & { eventId: string; eventType: string };

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  process.stderr.write('usage: tsx scripts/history-breakdown.ts <history.json> [--top N] [--json]\n');
  process.exit(2);
}
const topN = Number(args[args.indexOf('--top') + 1]) || 12;
const events = (JSON.parse(readFileSync(file, 'utf8')) as { events: Ev[] }).events;

const decode = (p: Payload): string => (p.data ? Buffer.from(p.data, 'base64').toString('utf8') : '');
const payloadsOf = (x: unknown): Payload[] => ((x as { payloads?: Payload[] } | undefined)?.payloads ?? []);
const attrsOf = (e: Ev): Record<string, unknown> => (Object.entries(e).find(([k]) => k.endsWith('EventAttributes'))?.[1] ?? {}) as Record<string, unknown>;
const pretty = (e: Ev): number => Buffer.byteLength(JSON.stringify(e, null, 2));

const byEventType = new Map<string, { n: number; bytes: number }>();
const byActivity = new Map<string, { n: number; input: number; result: number; failure: number }>();
const scheduled = new Map<string, string>();
const big: { what: string; bytes: number }[] = [];
let total = 0;
for (const e of events) {
  const b = pretty(e);
  total += b;
  const t = e.eventType.replace(/^EVENT_TYPE_/, '');
  const et = byEventType.get(t) ?? { n: 0, bytes: 0 };
  et.n++;
  et.bytes += b;
  byEventType.set(t, et);
  const a = attrsOf(e);
  if (t === 'ACTIVITY_TASK_SCHEDULED') {
    const name = (a.activityType as { name: string }).name;
    scheduled.set(e.eventId, name);
    const s = byActivity.get(name) ?? { n: 0, input: 0, result: 0, failure: 0 };
    s.n++;
    const bytes = payloadsOf(a.input).reduce((n, p) => n + Buffer.byteLength(decode(p)), 0);
    s.input += bytes;
    byActivity.set(name, s);
    big.push({ what: `#${e.eventId} ${name} input`, bytes });
  } else if (t === 'ACTIVITY_TASK_COMPLETED' || t === 'ACTIVITY_TASK_FAILED') {
    const name = scheduled.get(String(a.scheduledEventId)) ?? '?';
    const s = byActivity.get(name) ?? { n: 0, input: 0, result: 0, failure: 0 };
    const bytes = t === 'ACTIVITY_TASK_COMPLETED' ? payloadsOf(a.result).reduce((n, p) => n + Buffer.byteLength(decode(p)), 0) : Buffer.byteLength(JSON.stringify(a.failure ?? {}));
    if (t === 'ACTIVITY_TASK_COMPLETED') s.result += bytes;
    else s.failure += bytes;
    byActivity.set(name, s);
    big.push({ what: `#${e.eventId} ${name} ${t === 'ACTIVITY_TASK_COMPLETED' ? 'result' : 'failure'}`, bytes });
  } else if (t === 'WORKFLOW_EXECUTION_STARTED') {
    big.push({ what: `#${e.eventId} workflow input`, bytes: payloadsOf(a.input).reduce((n, p) => n + Buffer.byteLength(decode(p)), 0) });
  } else if (t === 'WORKFLOW_EXECUTION_COMPLETED') {
    big.push({ what: `#${e.eventId} workflow result`, bytes: payloadsOf(a.result).reduce((n, p) => n + Buffer.byteLength(decode(p)), 0) });
  }
}

const summary = {
  file,
  fileBytes: statSync(file).size,
  events: events.length,
  eventTypes: Object.fromEntries([...byEventType].sort((x, y) => y[1].bytes - x[1].bytes)),
  activities: Object.fromEntries([...byActivity].sort((x, y) => y[1].input + y[1].result - (x[1].input + x[1].result))),
  largestPayloads: big.sort((x, y) => y.bytes - x.bytes).slice(0, topN),
};
if (args.includes('--json')) {
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} else {
  const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
  const out: string[] = [`${file}: ${summary.fileBytes.toLocaleString('en')} bytes, ${events.length} events (pretty events summed: ${kb(total)})`, '', 'event type                                  n     bytes'];
  for (const [t, s] of Object.entries(summary.eventTypes)) out.push(`${t.padEnd(40)} ${String(s.n).padStart(4)} ${kb(s.bytes).padStart(10)}`);
  out.push('', 'activity (decoded payload JSON)             n     input    result   failure');
  for (const [t, s] of Object.entries(summary.activities)) out.push(`${t.padEnd(40)} ${String(s.n).padStart(4)} ${kb(s.input).padStart(9)} ${kb(s.result).padStart(9)} ${kb(s.failure).padStart(9)}`);
  out.push('', `largest payloads (top ${topN})`);
  for (const b of summary.largestPayloads) out.push(`  ${kb(b.bytes).padStart(9)}  ${b.what}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
