/**
 * Quality plane: one distribution query per score column (the seed's score distribution template) and a few
 * low-scoring traces of each.
 */
import { SQL_MAX_LIMIT, fieldPath } from '../../bt/sql.js';
import type { ScoreStats } from '../../workflows/logic/evidence.js';
import { LOW, each, n, str, type PlaneContext } from './context.js';

export async function qualityPlane(pc: PlaneContext): Promise<ScoreStats[]> {
  return each(pc.ctx.scoreColumns, async (name) => {
    const col = fieldPath('scores', name);
    const query = `SELECT ${col} AS value, COUNT(*) AS count FROM ${pc.roots} AND ${col} IS NOT NULL GROUP BY ${col} ORDER BY ${col} LIMIT ${SQL_MAX_LIMIT}`;
    // Ties broken by trace id (here and in the other planes' ORDER BY … LIMIT): at scale the engine returns tied rows
    // in any order, and the evidence must not depend on it.
    const lowQuery = `SELECT root_span_id, ${col} AS score FROM ${pc.roots} AND ${col} <= ${LOW} ORDER BY ${col}, root_span_id LIMIT 5`;
    const [dist, low] = await Promise.all([pc.q.run(query), pc.q.run(lowQuery)]);
    return {
      ...distributionStats(name, dist.map((r) => ({ value: n(r.value), count: n(r.count) }))),
      lowScoreExamples: low.map((r) => str(r.root_span_id)),
      query,
    };
  });
}

/** Statistics of one score from its value counts. */
export function distributionStats(name: string, dist: { value: number; count: number }[]) {
  const total = dist.reduce((a, d) => a + d.count, 0);
  const mean = total ? dist.reduce((a, d) => a + d.value * d.count, 0) / total : null;
  const variance = total && mean !== null ? dist.reduce((a, d) => a + d.count * (d.value - mean) ** 2, 0) / total : null;
  const histogram = new Array<number>(10).fill(0);
  for (const d of dist) histogram[Math.min(9, Math.max(0, Math.floor(d.value * 10)))]! += d.count;
  return {
    name,
    n: total,
    mean,
    stddev: variance === null ? null : Math.sqrt(variance),
    shareZero: total ? dist.filter((d) => d.value === 0).reduce((a, d) => a + d.count, 0) / total : 0,
    shareOne: total ? dist.filter((d) => d.value === 1).reduce((a, d) => a + d.count, 0) / total : 0,
    distinctValues: dist.length,
    histogram,
  };
}
