/**
 * Verify's routing evidence from the experiments' rows: failure shapes of the baseline and the new (validation)
 * run, and how the cohorts curated this run fare in it. The rows are read in bounded, cursor-paged reads of small
 * fields (error, a few metadata keys) and joined with the per-row score files the evals already wrote; the pure
 * comparison lives in src/workflows/logic/verify-evidence.ts. Only the short lists travel back through history.
 */
import { join } from 'node:path';
import type { BtClient } from '../bt/client.js';
import { SQL_MAX_LIMIT, experimentSource } from '../bt/sql.js';
import type { EvalResult, RowScores } from '../workflows/logic/evidence.js';
import {
  curatedCohortStats,
  newFailurePatterns,
  remainingGaps,
  type CuratedCohortStats,
  type CuratedRoute,
  type FailureRow,
} from '../workflows/logic/verify-evidence.js';
import { errorShape } from './discover.js';
import { readJsonl, writeJsonAtomic } from './files.js';
import { EXPERIMENT_ROWS_CAP } from './evals.js';
import { allInOrder } from './concurrent.js';

export interface VerifyEvidenceParams {
  baseline: EvalResult;
  next: EvalResult;
  targetScore: string | null;
  /** Dataset routes curated by this workflow (any iteration so far), with their rows that need a label. */
  curatedRoutes: CuratedRoute[];
  workflowId: string;
  /** The iteration changed the agent (a kept edit): curated cases still failing are then edge cases the fix missed. */
  agentChanged: boolean;
  /** Where the evidence file goes (the iteration's verify directory). */
  dir: string;
}

export interface VerifyEvidenceResult {
  newFailurePatterns: string[];
  remainingGaps: string[];
  curated: CuratedCohortStats[];
  /** Rows read per run, and whether a read hit its cap (then the lists cover only the rows read). */
  rows: { baseline: number; next: number; truncated: boolean };
}

/** The message line of an error (a logged error may carry its stack, whose paths differ between working copies). */
export function firstLine(message: string): string {
  return message.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v));

/** One experiment's rows as FailureRows: scores and keys from its rows file, errors and metadata from a paged read. */
export async function experimentFailureRows(
  bt: BtClient,
  run: EvalResult,
  signal?: AbortSignal,
  maxRows: number = EXPERIMENT_ROWS_CAP,
): Promise<{ rows: FailureRow[]; truncated: boolean }> {
  const scored = run.rowsFile ? await readJsonl<RowScores>(run.rowsFile.path) : [];
  const res = await bt.sqlPages(
    `SELECT root_span_id, is_root, metadata.category AS m_category, metadata.flywheel_route AS m_route, metadata.flywheel_workflow_id AS m_wf, metadata.bucket AS m_bucket, error FROM ${experimentSource(run.experimentId)} WHERE is_root = true OR error IS NOT NULL`,
    { signal, pageSize: SQL_MAX_LIMIT, maxRows },
  );
  const byTrace = new Map<string, { meta?: Record<string, unknown>; rootError: string | null; spanError: string | null }>();
  for (const r of res.data as Record<string, unknown>[]) {
    const id = String(r.root_span_id);
    const t = byTrace.get(id) ?? { rootError: null, spanError: null };
    const err = text(r.error);
    if (r.is_root === true) {
      t.meta = r;
      t.rootError = err;
    } else if (err !== null && t.spanError === null) t.spanError = err;
    byTrace.set(id, t);
  }
  const rows: FailureRow[] = scored.map((s) => {
    const t = s.traceId ? byTrace.get(s.traceId) : undefined;
    const m = t?.meta ?? {};
    const err = t ? (t.rootError ?? t.spanError) : null;
    return {
      key: s.key,
      rowId: s.rowId,
      category: text(m.m_category),
      route: text(m.m_route),
      curatedBy: text(m.m_wf),
      bucket: text(m.m_bucket),
      error: err === null ? null : errorShape(firstLine(err)),
      scores: s.scores,
    };
  });
  return { rows, truncated: res.truncated };
}

export async function verifyEvidence(bt: BtClient, p: VerifyEvidenceParams, signal?: AbortSignal): Promise<VerifyEvidenceResult> {
  // The two experiments' rows are independent reads: both at once.
  const [base, next] = await allInOrder(signal, [(s) => experimentFailureRows(bt, p.baseline, s), (s) => experimentFailureRows(bt, p.next, s)] as const);
  const curated = curatedCohortStats(next.rows, p.curatedRoutes, p.workflowId, p.targetScore);
  const result: VerifyEvidenceResult = {
    newFailurePatterns: newFailurePatterns(base.rows, next.rows, p.targetScore),
    remainingGaps: remainingGaps(curated, p.agentChanged),
    curated,
    rows: { baseline: base.rows.length, next: next.rows.length, truncated: base.truncated || next.truncated },
  };
  await writeJsonAtomic(join(p.dir, `verify-evidence-${p.baseline.experimentId}-${p.next.experimentId}.json`), result);
  return result;
}
