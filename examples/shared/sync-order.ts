/**
 * The order in which `bt sync pull --traces` writes a project's logs, shared by the example trace generators:
 * transaction ids and pagination keys in commit order (span end), `created` at span start; roots newest first,
 * fetched 100 at a time, each chunk's spans ascending by pagination key.
 */
export interface TimedSpan {
  row: Record<string, unknown>;
  /** Epoch seconds. */
  start: number;
  end: number;
  isRoot: boolean;
}

export interface TraceChunk {
  chunk_index: number;
  start: number;
  end: number;
  cursor: null;
  completed: boolean;
}

const ROOTS_PER_CHUNK = 100;

/** Stamps `_xact_id`, `_pagination_key` and `created` on every row; returns the rows in sync-pull order. */
export function syncPullOrder(spans: TimedSpan[]): { rows: Array<Record<string, unknown>>; rootIds: string[]; chunks: TraceChunk[] } {
  const order = spans.map((_, i) => i).sort((a, b) => spans[a]!.end - spans[b]!.end || a - b);
  order.forEach((idx, seq) => {
    const s = spans[idx]!;
    const xact = BigInt(Math.round(s.end * 1000)) * 1000n + BigInt(seq % 1000);
    s.row._xact_id = xact.toString();
    s.row._pagination_key = `p${xact.toString().padStart(20, '0')}`;
    s.row.created = new Date(Math.round(s.start * 1000)).toISOString();
  });
  const pk = (s: TimedSpan): string => s.row._pagination_key as string;
  const byRoot = new Map<string, TimedSpan[]>();
  for (const s of spans) byRoot.set(s.row.root_span_id as string, [...(byRoot.get(s.row.root_span_id as string) ?? []), s]);
  const roots = spans.filter((s) => s.isRoot).sort((a, b) => (pk(a) < pk(b) ? 1 : pk(a) > pk(b) ? -1 : 0));
  const rows: Array<Record<string, unknown>> = [];
  const chunks: TraceChunk[] = [];
  for (let c = 0; c * ROOTS_PER_CHUNK < roots.length; c++) {
    const chunkRoots = roots.slice(c * ROOTS_PER_CHUNK, (c + 1) * ROOTS_PER_CHUNK);
    chunks.push({ chunk_index: c, start: c * ROOTS_PER_CHUNK, end: c * ROOTS_PER_CHUNK + chunkRoots.length, cursor: null, completed: true });
    const chunk = chunkRoots.flatMap((r) => byRoot.get(r.row.root_span_id as string)!).sort((a, b) => (pk(a) < pk(b) ? -1 : 1));
    rows.push(...chunk.map((s) => s.row));
  }
  return { rows, rootIds: roots.map((r) => r.row.root_span_id as string), chunks };
}

/** A copy of `value` with object keys sorted at every level (bt writes rows with sorted keys). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** `--name value` and `--name=value` flags of a generator's command line (positional arguments are ignored). */
export function parseFlags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else out[a.slice(2)] = argv[++i] ?? '';
  }
  return out;
}
