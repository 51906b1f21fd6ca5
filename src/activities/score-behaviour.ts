/**
 * Score vs behaviour: for each score column, how many production roots that errored or answered nothing it scored,
 * and how many of those it scored high. Two small queries (counts for every score at once, then example traces for
 * the scores that rate such answers high); the judgment is pure (src/workflows/logic/measurement.ts).
 */
import type { BtClient } from '../bt/client.js';
import { allInOrder } from './concurrent.js';
import { fieldPath, projectLogs, since, sqlNumber } from '../bt/sql.js';
import { CONTRADICTION_THRESHOLDS, type ScoreBehaviour, type ScoreBehaviourEvidence } from '../workflows/logic/measurement.js';

/** At most this many score columns are checked (one query carries four counts per score). */
export const MAX_BEHAVIOUR_SCORES = 20;
const EXAMPLES = 5;

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) || 0 : 0);

/** Roots that errored, and roots that did not error but answered nothing (the two never overlap). */
const ERRORED = 'error IS NOT NULL';
const EMPTY = "(error IS NULL AND (output IS NULL OR output = ''))";

export function scoreBehaviourQuery(projectId: string, scores: string[], days: number, high = CONTRADICTION_THRESHOLDS.highScore): string {
  const cols = scores.flatMap((s, i) => {
    const c = fieldPath('scores', s);
    return [
      `count((${ERRORED} AND ${c} IS NOT NULL) ? 1 : null) AS e${i}`,
      `count((${ERRORED} AND ${c} >= ${sqlNumber(high)}) ? 1 : null) AS eh${i}`,
      `count((${EMPTY} AND ${c} IS NOT NULL) ? 1 : null) AS m${i}`,
      `count((${EMPTY} AND ${c} >= ${sqlNumber(high)}) ? 1 : null) AS mh${i}`,
    ];
  });
  return `SELECT ${cols.join(', ')} FROM ${projectLogs(projectId)} WHERE is_root = true AND ${since(days)} AND (${ERRORED} OR ${EMPTY})`;
}

export function contradictionExamplesQuery(projectId: string, score: string, days: number, high = CONTRADICTION_THRESHOLDS.highScore): string {
  return `SELECT root_span_id FROM ${projectLogs(projectId)} WHERE is_root = true AND ${since(days)} AND (${ERRORED} OR ${EMPTY}) AND ${fieldPath('scores', score)} >= ${sqlNumber(high)} ORDER BY root_span_id LIMIT ${EXAMPLES}`;
}

export async function checkScoreBehaviour(
  bt: BtClient,
  p: { projectId: string; scores: string[]; windowDays: number },
  signal?: AbortSignal,
): Promise<ScoreBehaviourEvidence> {
  const scores = [...new Set(p.scores)].sort().slice(0, MAX_BEHAVIOUR_SCORES);
  if (!scores.length) return { scores: [], query: null };
  const query = scoreBehaviourQuery(p.projectId, scores, p.windowDays);
  const row = ((await bt.sql(query, { signal })).data[0] ?? {}) as Record<string, unknown>;
  const out: ScoreBehaviour[] = [];
  for (const [i, score] of scores.entries()) {
    const r: ScoreBehaviour = {
      score,
      erroredScored: num(row[`e${i}`]),
      erroredHigh: num(row[`eh${i}`]),
      emptyScored: num(row[`m${i}`]),
      emptyHigh: num(row[`mh${i}`]),
      exampleTraceIds: [],
    };
    // Only scores that saw such answers at all are returned (the result goes into the workflow's history).
    if (r.erroredScored + r.emptyScored === 0) continue;
    out.push(r);
  }
  // Example traces of the scores that rate such answers high: independent reads, all at once.
  const contradicting = out.filter((r) => r.erroredHigh + r.emptyHigh >= CONTRADICTION_THRESHOLDS.minRows);
  const examples = await allInOrder(
    signal,
    contradicting.map((r) => (s: AbortSignal) => bt.sql(contradictionExamplesQuery(p.projectId, r.score, p.windowDays), { signal: s })),
  );
  contradicting.forEach((r, i) => {
    r.exampleTraceIds = examples[i]!.data.map((x) => String((x as Record<string, unknown>).root_span_id ?? '')).filter(Boolean);
  });
  return { scores: out, query };
}
