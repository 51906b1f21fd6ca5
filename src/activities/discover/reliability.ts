/**
 * Reliability plane: errors grouped by their shape (messages that differ only in ids and numbers are one
 * failure mode), tool errors by tool, and the share of root traces that errored.
 */
import type { ReliabilityStats } from '../../workflows/logic/evidence.js';
import { each, examplesWhere, n, str, type PlaneContext } from './context.js';

/** Error shapes kept, and how many of them (the biggest) get example-trace queries. */
export const MAX_ERROR_GROUPS = 20;
export const ERROR_GROUPS_WITH_EXAMPLES = 5;
/** Tools measured (most errors first). */
export const MAX_TOOLS = 20;

export async function reliabilityPlane(pc: PlaneContext): Promise<ReliabilityStats> {
  const { q, src, W } = pc;
  const errQuery = `SELECT error, COUNT(*) AS count FROM ${src} WHERE error IS NOT NULL AND ${W} GROUP BY error ORDER BY count DESC, error LIMIT 500`;
  const toolQuery = `SELECT span_attributes.name AS tool, COUNT(*) AS calls, COUNT(error) AS errors FROM ${src} WHERE span_attributes.type = 'tool' AND ${W} GROUP BY span_attributes.name ORDER BY errors DESC, span_attributes.name LIMIT ${MAX_TOOLS}`;
  const rootErrQuery = `SELECT count_distinct(root_span_id) AS traces FROM ${src} WHERE error IS NOT NULL AND ${W}`;

  // The example queries wait on their group's answer: each chain logs in a branch right after the query it follows.
  const errRows = q.run(errQuery);
  const errorExamples = q.branch();
  const toolRows = q.run(toolQuery);
  const toolExamples = q.branch();
  const groupsP = errRows.then((rows) =>
    each(rankErrorShapes(rows.map((g) => ({ message: str(g.error), count: n(g.count) }))), async (g, i) => ({
      message: g.message,
      count: g.count,
      exampleTraceIds: i < ERROR_GROUPS_WITH_EXAMPLES ? await examplesWhere(errorExamples, src, 'error', g.sample, `error IS NOT NULL AND ${W}`, 3) : [],
    })),
  );
  const toolsP = toolRows.then((rows) =>
    each(rows, async (r) => {
      const errors = n(r.errors);
      const ex = errors ? await examplesWhere(toolExamples, src, 'span_attributes.name', str(r.tool), `span_attributes.type = 'tool' AND error IS NOT NULL AND ${W}`) : [];
      return { tool: str(r.tool), errors, calls: n(r.calls), exampleTraceIds: ex, query: toolQuery };
    }),
  );
  const [groups, toolErrors, [rootErr]] = await Promise.all([groupsP, toolsP, q.run(rootErrQuery)]);
  const errorCount = n(rootErr?.traces);
  return { errorCount, errorRate: pc.traces ? errorCount / pc.traces : 0, groups, toolErrors, query: errQuery };
}

/** Error messages folded by shape, biggest first (ties by message), with one raw message of each to query by. */
export function rankErrorShapes(rows: readonly { message: string; count: number }[]): { message: string; count: number; sample: string }[] {
  const shapes = new Map<string, { message: string; count: number; sample: string }>();
  for (const r of rows) {
    const shape = errorShape(r.message);
    const entry = shapes.get(shape) ?? { message: shape.slice(0, 300), count: 0, sample: r.message };
    entry.count += r.count;
    shapes.set(shape, entry);
  }
  return [...shapes.values()].sort((a, b) => b.count - a.count || a.message.localeCompare(b.message)).slice(0, MAX_ERROR_GROUPS);
}

/** An error message with quoted values and numbers masked, so the same failure mode groups together. */
export function errorShape(message: string): string {
  return message
    .replace(/"[^"]*"|'[^']*'/g, '"…"')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/\d+/g, '#');
}
