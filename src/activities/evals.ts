/**
 * Verify: run `bt eval --jsonl` (smoke with --first, full on a split), and load an experiment's rows into a
 * per-row scores file for the comparison against the pinned baseline. Only means and file refs are returned.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { BtClient } from '../bt/client.js';
import { LARGE_FIELD_PAGE_SIZE, SQL_MAX_LIMIT, experimentSource } from '../bt/sql.js';
import { experimentUrl } from '../handoff/urls.js';
import { compareRows } from '../workflows/logic/decide.js';
import type { EvalResult, EvalRunMode, EvalSplit, RowComparison, RowScores, ScoreDistribution } from '../workflows/logic/evidence.js';
import type { OrientContext } from '../workflows/types.js';
import { readJson, readJsonl, writeJsonAtomic, writeJsonlAtomic } from './files.js';
import { distributionStats } from './discover.js';

export const SMOKE_ROWS = 20;
/** Most experiment spans (roots, scorer and error spans) read per experiment; past it the result says so (`rowsTruncated`). */
export const EXPERIMENT_ROWS_CAP = 20_000;

export interface RunEvalParams {
  ctx: OrientContext;
  /** Working tree to evaluate (the agent directory, possibly changed). */
  cwd: string;
  split: EvalSplit;
  runMode: Exclude<EvalRunMode, 'baseline'> | 'baseline';
  experimentName: string;
  dir: string;
  /** Include the curated dataset's rows of `split`. */
  useDataset: boolean;
  /**
   * Identity of this activity execution (workflow run id / activity id). With it, the finished `bt eval` is
   * checkpointed in the run directory, and a retry of the same execution (rows failed to load, the worker died
   * after the eval) reads the rows of that experiment instead of running the eval again — no second experiment,
   * no second LLM spend.
   */
  checkpointKey?: string;
}

/** Stable join key of an eval row: the dataset record id when there is one, else a hash of the input. */
export function rowKey(row: { id?: unknown; input?: unknown; metadata?: unknown; origin?: unknown }): string {
  const origin = row.origin as { id?: unknown } | null | undefined;
  if (origin && typeof origin.id === 'string') return origin.id;
  const meta = row.metadata as Record<string, unknown> | null | undefined;
  for (const k of ['record_id', 'case_id', 'dataset_record_id']) if (typeof meta?.[k] === 'string') return meta[k] as string;
  return 'input:' + createHash('sha256').update(JSON.stringify(row.input ?? null)).digest('hex').slice(0, 24);
}

export interface LoadedExperimentRows {
  rows: RowScores[];
  file: Awaited<ReturnType<typeof writeJsonlAtomic>>;
  errors: number;
  /** Spans read, requests made, and whether the cap cut the read short (then the means cover only what was read). */
  spansRead: number;
  requests: number;
  truncated: boolean;
  cap: number;
}

/** Pulls an experiment's root rows into a RowScores JSONL file; returns means and distributions. */
export async function loadExperimentRows(
  bt: BtClient,
  experimentId: string,
  path: string,
  signal?: AbortSignal,
  opts: { maxRows?: number; onPage?: () => void } = {},
): Promise<LoadedExperimentRows> {
  // Scores live on the eval's child `score` spans; the join key on the root span. Merge per trace.
  // The key comes from small fields (origin.id, metadata ids), read in pages of the service's maximum; only roots
  // without one need their input (hashed), which is a large field and comes in pages of LARGE_FIELD_PAGE_SIZE.
  const cap = opts.maxRows ?? EXPERIMENT_ROWS_CAP;
  const src = experimentSource(experimentId);
  const paging = { signal, maxRows: cap, ...(opts.onPage ? { onPage: opts.onPage } : {}) };
  const res = await bt.sqlPages(
    `SELECT id, root_span_id, is_root, origin, metadata.record_id AS m_record_id, metadata.case_id AS m_case_id, metadata.dataset_record_id AS m_dataset_record_id, scores, error FROM ${src} WHERE is_root = true OR scores IS NOT NULL OR error IS NOT NULL`,
    { ...paging, pageSize: SQL_MAX_LIMIT },
  );
  const data = res.data as Record<string, unknown>[];
  const traces = new Map<string, { root?: Record<string, unknown>; scores: Record<string, number | null>; error: boolean }>();
  for (const r of data) {
    const id = String(r.root_span_id ?? r.id);
    const t = traces.get(id) ?? { scores: {}, error: false };
    if (r.is_root === true) t.root = { id: r.id, origin: r.origin, metadata: { record_id: r.m_record_id, case_id: r.m_case_id, dataset_record_id: r.m_dataset_record_id } };
    for (const [k, v] of Object.entries((r.scores as Record<string, unknown> | null) ?? {})) t.scores[k] = typeof v === 'number' ? v : (t.scores[k] ?? null);
    if (r.error !== null && r.error !== undefined) t.error = true;
    traces.set(id, t);
  }
  let requests = res.requests;
  let truncated = res.truncated;
  const unkeyed = [...traces.values()].filter((t) => t.root && rowKey(t.root).startsWith('input:'));
  if (unkeyed.length) {
    const inputs = await bt.sqlPages(`SELECT id, input FROM ${src} WHERE is_root = true`, { ...paging, pageSize: LARGE_FIELD_PAGE_SIZE });
    requests += inputs.requests;
    truncated ||= inputs.truncated;
    const byId = new Map((inputs.data as Record<string, unknown>[]).map((r) => [String(r.id), r.input]));
    for (const t of unkeyed) t.root!.input = byId.get(String(t.root!.id)) ?? null;
  }
  const rows: RowScores[] = [...traces.entries()]
    .filter(([, t]) => t.root)
    .map(([traceId, t]) => ({ key: rowKey(t.root!), rowId: String(t.root!.id), traceId, scores: t.scores }));
  const file = await writeJsonlAtomic(path, rows);
  return {
    rows,
    file,
    errors: [...traces.values()].filter((t) => t.root && t.error).length,
    spansRead: data.length,
    requests,
    truncated,
    cap,
  };
}

/** The truncation note for an EvalResult (absent when every row was read). */
function truncationOf(loaded: LoadedExperimentRows): Pick<EvalResult, 'rowsTruncated'> {
  return loaded.truncated ? { rowsTruncated: { spansRead: loaded.spansRead, cap: loaded.cap } } : {};
}

function summarize(rows: RowScores[]): { means: Record<string, number | null>; distributions: ScoreDistribution[] } {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.scores)))].sort();
  const means: Record<string, number | null> = {};
  const distributions: ScoreDistribution[] = [];
  for (const name of names) {
    const counts = new Map<number, number>();
    for (const r of rows) {
      const v = r.scores[name];
      if (typeof v === 'number') counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const d = distributionStats(name, [...counts].map(([value, count]) => ({ value, count })));
    means[name] = d.mean;
    distributions.push(d);
  }
  return { means, distributions };
}

export async function runEval(bt: BtClient, p: RunEvalParams, signal?: AbortSignal): Promise<EvalResult> {
  if (!p.ctx.evalFiles.length) {
    throw ApplicationFailure.nonRetryable('no eval files: add an eval_*.ts or eval_*.py file, or pass --eval-file', 'NoEvalFiles');
  }
  const checkpointPath = join(p.dir, `${p.runMode}-${p.split}-eval-checkpoint.json`);
  type Summary = Awaited<ReturnType<BtClient['eval']>>['summaries'][number] & { experimentId: string };
  type Done = { summary: Summary; userStdout: string[] };
  const checkpoint = p.checkpointKey ? await readJson<{ key: string } & Done>(checkpointPath).catch(() => null) : null;
  let done: Done;
  if (checkpoint && checkpoint.key === p.checkpointKey && checkpoint.summary?.experimentId) {
    done = { summary: checkpoint.summary, userStdout: checkpoint.userStdout };
  } else {
    const res = await bt.eval(p.ctx.evalFiles, {
      cwd: p.cwd,
      project: p.ctx.project.name,
      ...(p.runMode === 'smoke' ? { first: SMOKE_ROWS } : {}),
      signal,
    });
    const first = res.summaries[0];
    if (!first?.experimentId) {
      throw ApplicationFailure.nonRetryable(
        `bt eval printed no experiment summary for ${p.ctx.evalFiles.join(', ')}; stderr: ${res.stderrTail.slice(-600)}`,
        'EvalNoSummary',
      );
    }
    done = { summary: first as Summary, userStdout: res.userStdout.slice(-50) };
    if (p.checkpointKey) await writeJsonAtomic(checkpointPath, { key: p.checkpointKey, ...done });
  }
  const { summary } = done;
  const loaded = await loadExperimentRows(bt, summary.experimentId, join(p.dir, `${p.runMode}-${p.split}-rows.jsonl`), signal);
  const { means, distributions } = summarize(loaded.rows);
  // Prefer the server's numbers (what the eval reported) where present.
  for (const [name, s] of Object.entries(summary.scores)) if (typeof s.score === 'number') means[name] = s.score;
  const result: EvalResult = {
    experimentId: summary.experimentId,
    experimentName: summary.experimentName,
    url: experimentUrl(p.ctx.appUrl, p.ctx.org, p.ctx.project.name, summary.experimentId),
    split: p.split,
    runMode: p.runMode,
    scores: means,
    rowCount: loaded.rows.length,
    errorCount: loaded.errors,
    rowsFile: loaded.file,
    distributions,
    ...truncationOf(loaded),
  };
  await writeJsonAtomic(join(p.dir, `${p.runMode}-${p.split}-summary.json`), { summary, userStdout: done.userStdout.slice(-50), result });
  return result;
}

/** The pinned baseline experiment as an EvalResult (rows pulled into the run directory). */
export async function loadBaseline(
  bt: BtClient,
  ctx: OrientContext,
  dir: string,
  signal?: AbortSignal,
): Promise<EvalResult | null> {
  if (!ctx.baseline) return null;
  const loaded = await loadExperimentRows(bt, ctx.baseline.id, join(dir, 'baseline-rows.jsonl'), signal);
  const { means, distributions } = summarize(loaded.rows);
  return {
    experimentId: ctx.baseline.id,
    experimentName: ctx.baseline.name,
    url: experimentUrl(ctx.appUrl, ctx.org, ctx.project.name, ctx.baseline.id),
    split: 'all',
    runMode: 'baseline',
    scores: means,
    rowCount: loaded.rows.length,
    errorCount: loaded.errors,
    rowsFile: loaded.file,
    distributions,
    ...truncationOf(loaded),
  };
}

/** Per-row comparison of two runs from their row files (rows never travel through history). */
export async function compareRuns(baseline: EvalResult, next: EvalResult, tolerance: number, dir: string): Promise<RowComparison> {
  if (!baseline.rowsFile || !next.rowsFile) throw ApplicationFailure.nonRetryable('both runs need a rows file to compare', 'NoRows');
  const a = await readJsonl<RowScores>(baseline.rowsFile.path);
  const b = await readJsonl<RowScores>(next.rowsFile.path);
  const cmp = compareRows(a, b, tolerance);
  await writeJsonAtomic(join(dir, `comparison-${baseline.experimentId}-${next.experimentId}.json`), cmp);
  // History gets the counts and the worst regressions only.
  return { ...cmp, regressions: cmp.regressions.slice(0, 25) };
}
