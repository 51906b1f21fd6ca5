/**
 * Alignment plane: the baseline experiment's means next to production's on the same scores (evals that
 * overestimate production miss the inputs that fail there).
 */
import { experimentSource, fieldPath } from '../../bt/sql.js';
import type { EvalAlignment, ScoreStats } from '../../workflows/logic/evidence.js';
import { keysOf } from '../orient.js';
import { nOrNull, type PlaneContext } from './context.js';

/** `production`: the quality plane's score statistics (awaited only for the final join). */
export async function alignmentPlane(pc: PlaneContext, production: Promise<ScoreStats[]>): Promise<EvalAlignment | null> {
  const { q, ctx } = pc;
  if (!ctx.baseline) return null;
  const src = experimentSource(ctx.baseline.id);
  // Eval scores live on child `score` spans, not on the root.
  const expScores = keysOf(await q.run(`SELECT scores FROM ${src} WHERE scores IS NOT NULL LIMIT 200`), 'scores');
  const common = ctx.scoreColumns.filter((s) => expScores.includes(s));
  const alignQuery = common.length ? `SELECT ${common.map((s, i) => `AVG(${fieldPath('scores', s)}) AS s${i}`).join(', ')} FROM ${src} WHERE scores IS NOT NULL` : '';
  const [row] = alignQuery ? await q.run(alignQuery) : [undefined];
  const scores = await production;
  return {
    baselineExperimentId: ctx.baseline.id,
    baselineExperimentName: ctx.baseline.name,
    baselineChosenBy: ctx.baseline.chosenBy,
    scores: common.map((s, i) => ({ name: s, baselineMean: nOrNull(row?.[`s${i}`]), productionMean: scores.find((x) => x.name === s)?.mean ?? null })),
    query: alignQuery || `(no score column shared by production and experiment ${ctx.baseline.id})`,
  };
}
