/**
 * Improve: dataset curation, fully automatic. Balanced failing and passing production candidates, deduped,
 * labeled (never with bad production output), split 80/20 by a seeded hash of a near-duplicate key, with
 * stable ids and provenance, upserted with `bt datasets create|update --id-field id`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { BtClient } from '../bt/client.js';
import type { DatasetRecordInput } from '../bt/schemas.js';
import { LARGE_FIELD_PAGE_SIZE, fieldPath, projectLogs } from '../bt/sql.js';
import { cohortCondition, parseCohortId, topicLabelsOf } from './cohorts.js';
import type { RouteTarget } from '../workflows/logic/diagnose.js';
import type { CurateResult, OrientContext } from '../workflows/types.js';
import { readJson, writeJsonAtomic, writeJsonlAtomic } from './files.js';
import { ChildEnvError, childEnv, expandArgv } from '../child-env.js';
import { runSubprocess, tail } from './subprocess.js';
import { windowClause } from './discover.js';

export const TRAIN_FRACTION = 0.8;
export const SPLIT_SEED = 'flywheel-v1';
const PER_BUCKET = 40;
/** Candidate rows read per bucket (they carry input and output, so in pages of `LARGE_FIELD_PAGE_SIZE`). */
export const CANDIDATES_CAP = PER_BUCKET * 3;
const FAIL_AT = 0.5;
const PASS_AT = 0.8;

export interface CurateParams {
  ctx: OrientContext;
  routeId: string;
  targets: RouteTarget[];
  windowDays: number;
  iteration: number;
  dir: string;
  labeler?: string[];
  labelerTimeoutMs?: number;
  /** Worker variables the labeler may see, by name (src/child-env.ts); nothing else of the worker's. */
  agentEnv?: string[];
  workerEnv?: Readonly<Record<string, string | undefined>>;
}

interface Candidate {
  traceId: string;
  input: unknown;
  output: unknown;
  metadata: Record<string, unknown> | null;
  facets: Record<string, unknown> | null;
  /** Topics labels of the source trace, facet → label (`classifications.<Facet>[0].label`). */
  topics?: Record<string, string>;
  score: number | null;
  bucket: 'failing' | 'passing';
}

/** Normalized text of an input: near-identical inputs (case, digits, punctuation, spacing) share it. */
export function nearDuplicateKey(input: unknown): string {
  const text = typeof input === 'string' ? input : JSON.stringify(input ?? null);
  return text
    .toLowerCase()
    .replace(/[0-9]+/g, '#')
    .replace(/[^a-z#]+/g, ' ')
    .trim();
}

/** Deterministic split: the same key lands in the same split on every run and iteration. */
export function assignSplit(key: string, seed = SPLIT_SEED, trainFraction = TRAIN_FRACTION): 'train' | 'validation' {
  const h = createHash('sha256').update(`${seed}:${key}`).digest();
  return h.readUInt32BE(0) % 100 < trainFraction * 100 ? 'train' : 'validation';
}

export function recordId(projectId: string, traceId: string): string {
  return `flywheel:${projectId}:${traceId}`;
}

/** Keeps the first candidate of every near-duplicate group. */
export function dedupe<T extends { input: unknown }>(rows: readonly T[]): { kept: T[]; dropped: number } {
  const seen = new Set<string>();
  const kept: T[] = [];
  for (const r of rows) {
    const k = nearDuplicateKey(r.input);
    if (seen.has(k)) continue;
    seen.add(k);
    kept.push(r);
  }
  return { kept, dropped: rows.length - kept.length };
}

interface CohortFilter {
  /** ` AND <condition>` (empty for "no cohort"). */
  sql: string;
  /** The exact comparison on a returned row (the SQL may be a LIKE superset: see textEquals in src/bt/sql.ts). */
  keep(row: Record<string, unknown>): boolean;
}

const ALL: CohortFilter = { sql: '', keep: () => true };

/** A SQL condition per cohort target of the route (a merged route has several lenses on one failure). */
function cohortFilters(targets: RouteTarget[]): CohortFilter[] {
  const out: CohortFilter[] = [];
  for (const t of targets) {
    if (t.kind !== 'cohort') continue;
    const c = parseCohortId(t.name);
    const cond = c ? cohortCondition(c) : null;
    if (!cond) continue;
    out.push({ sql: ` AND ${cond.sql}`, keep: cond.keep });
  }
  return out;
}

interface PulledCandidates {
  candidates: Candidate[];
  /** Buckets whose query hit `CANDIDATES_CAP` with more matching rows left. */
  truncated: Array<Candidate['bucket']>;
}

async function pullCandidates(bt: BtClient, p: CurateParams, signal?: AbortSignal): Promise<PulledCandidates> {
  const score = p.targets.find((t) => t.kind === 'score')?.name ?? p.ctx.primaryScore;
  if (!score) throw ApplicationFailure.nonRetryable('dataset curation needs a score column to tell failing from passing rows; none was discovered', 'NoScore');
  const col = fieldPath('scores', score);
  const base = `SELECT root_span_id, input, output, metadata, tags, facets, classifications, ${col} AS score FROM ${projectLogs(p.ctx.project.id)} WHERE is_root = true AND ${windowClause(p.windowDays)} AND input IS NOT NULL`;
  const filters = cohortFilters(p.targets);
  // Newest first (descending _pagination_key), in small pages: the rows carry input and output.
  const read = (query: string) => bt.sqlPages(query, { signal, pageSize: LARGE_FIELD_PAGE_SIZE, maxRows: CANDIDATES_CAP, order: 'desc' });
  const truncated: Array<Candidate['bucket']> = [];
  const first = filters[0] ?? ALL;
  const failing = await read(`${base}${first.sql} AND ${col} <= ${FAIL_AT}`);
  if (failing.truncated) truncated.push('failing');
  failing.data = failing.data.filter(first.keep);
  // Passing rows from the same cohort when it has any; a label that only marks failures (an issue facet) has
  // none, so try the route's other lenses, then production at large: the dataset must not be only hard cases.
  let passing: { data: Record<string, unknown>[]; truncated: boolean } = { data: [], truncated: false };
  for (const filter of [...filters, ALL]) {
    passing = await read(`${base}${filter.sql} AND ${col} >= ${PASS_AT}`);
    passing.data = passing.data.filter(filter.keep);
    if (passing.data.length) break;
  }
  if (passing.truncated) truncated.push('passing');
  const map = (bucket: Candidate['bucket']) => (r: Record<string, unknown>): Candidate => ({
    traceId: String(r.root_span_id),
    input: r.input,
    output: r.output,
    metadata: (r.metadata as Record<string, unknown> | null) ?? null,
    facets: (r.facets as Record<string, unknown> | null) ?? null,
    topics: topicLabelsOf(r),
    score: typeof r.score === 'number' ? r.score : null,
    bucket,
  });
  const f = dedupe(failing.data.map(map('failing'))).kept.slice(0, PER_BUCKET);
  // Balance: no more passing than failing rows (and at least a few, so the set is not only hard cases).
  const p2 = dedupe(passing.data.map(map('passing'))).kept.slice(0, Math.max(f.length, 5));
  return { candidates: [...f, ...p2], truncated };
}

async function label(p: CurateParams, rows: Candidate[], signal?: AbortSignal, heartbeat?: () => void): Promise<Map<string, unknown>> {
  const labels = new Map<string, unknown>();
  if (!p.labeler || !rows.length) return labels;
  const workerEnv = p.workerEnv ?? process.env;
  let argv: string[];
  try {
    argv = expandArgv(p.labeler, workerEnv);
  } catch (err) {
    if (err instanceof ChildEnvError) throw ApplicationFailure.nonRetryable(`labeler: ${err.message}`, 'LabelerEnv');
    throw err;
  }
  const res = await runSubprocess({
    argv,
    env: childEnv(workerEnv, p.agentEnv ?? []),
    cwd: p.ctx.agentDir,
    input: JSON.stringify(rows.map((r) => ({ id: r.traceId, input: r.input, metadata: r.metadata }))),
    timeoutMs: p.labelerTimeoutMs ?? 10 * 60_000,
    signal,
    heartbeat,
  });
  if (res.exitCode !== 0) {
    throw ApplicationFailure.retryable(`labeler exited ${res.exitCode}: ${tail(res.stderr, 500)}`, 'LabelerFailed');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.stdout);
  } catch {
    throw ApplicationFailure.nonRetryable(`labeler printed something that is not JSON: ${tail(res.stdout, 300)}. It must print [{"id","expected"}]`, 'LabelerOutput');
  }
  if (!Array.isArray(parsed)) throw ApplicationFailure.nonRetryable('labeler output must be a JSON array of {id, expected}', 'LabelerOutput');
  for (const item of parsed as { id?: unknown; expected?: unknown }[]) {
    if (typeof item?.id === 'string' && item.expected !== null && item.expected !== undefined) labels.set(item.id, item.expected);
  }
  return labels;
}

export async function curateDataset(
  bt: BtClient,
  p: CurateParams,
  signal?: AbortSignal,
  heartbeat?: () => void,
): Promise<CurateResult> {
  const { ctx } = p;
  // Candidates are pinned in the run directory: a retried activity writes exactly the same rows.
  const candidatesPath = join(p.dir, 'candidates.json');
  const readPath = join(p.dir, 'candidates-read.json');
  let candidates: Candidate[];
  let truncatedBuckets: Array<Candidate['bucket']>;
  if (existsSync(candidatesPath)) {
    candidates = await readJson<Candidate[]>(candidatesPath);
    truncatedBuckets = existsSync(readPath) ? (await readJson<{ truncated: Array<Candidate['bucket']> }>(readPath)).truncated : [];
  } else {
    const pulled = await pullCandidates(bt, p, signal);
    candidates = pulled.candidates;
    truncatedBuckets = pulled.truncated;
    await writeJsonAtomic(readPath, { cap: CANDIDATES_CAP, truncated: truncatedBuckets });
    await writeJsonAtomic(candidatesPath, candidates);
  }
  const { kept, dropped } = dedupe(candidates);
  const labels = await label(p, kept, signal, heartbeat);

  let needsLabel = 0;
  let labeled = 0;
  const cohorts = new Set<string>();
  const rows: DatasetRecordInput[] = kept.map((c) => {
    const key = nearDuplicateKey(c.input);
    const split = assignSplit(key);
    const fromLabeler = labels.get(c.traceId);
    // Passing rows may keep their (good) production output as the reference; failing rows never do.
    const expected = fromLabeler ?? (c.bucket === 'passing' && !p.labeler ? c.output : null);
    const labelSource = fromLabeler !== undefined ? 'labeler' : expected !== null ? 'production_output_passing' : 'needs_label';
    if (expected === null) needsLabel++;
    else labeled++;
    const meta: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c.metadata ?? {})) if (typeof v !== 'object' || v === null) meta[k] = v;
    for (const k of Object.keys(meta)) cohorts.add(`metadata:${k}=${String(meta[k])}`);
    for (const [facet, label] of Object.entries(c.topics ?? {})) cohorts.add(`topic:${facet}=${label}`);
    return {
      id: recordId(ctx.project.id, c.traceId),
      input: c.input,
      expected,
      tags: ['production', 'flywheel-curated', split, c.bucket, ...(expected === null ? ['needs-label'] : [])],
      metadata: {
        ...meta,
        // The source trace's Topics labels: how the coverage count matches these rows to topic cohorts (cohorts.ts).
        ...(c.topics && Object.keys(c.topics).length ? { topics: c.topics } : {}),
        split,
        bucket: c.bucket,
        source_trace_id: c.traceId,
        source_project_id: ctx.project.id,
        production_score: c.score,
        label_source: labelSource,
        needs_label: expected === null,
        near_duplicate_key: createHash('sha256').update(key).digest('hex').slice(0, 16),
        flywheel_workflow_id: ctx.workflowId,
        flywheel_iteration: p.iteration,
        flywheel_route: p.routeId,
      },
    };
  });
  const rowsFile = await writeJsonlAtomic(join(p.dir, 'dataset-rows.jsonl'), rows);

  const existing = (await bt.datasetsList(ctx.project.name, { signal })).find((d) => d.name === ctx.datasetName);
  let created = false;
  let datasetId = existing?.id ?? null;
  if (!existing) {
    const res = await bt.datasetsCreate(ctx.project.name, ctx.datasetName, {
      description: `Curated by bt-flywheel from production traces of ${ctx.project.name}`,
      signal,
    });
    datasetId = res.dataset.id;
    created = true;
  }
  if (rows.length) await bt.datasetsUpdate(ctx.project.name, ctx.datasetName, { rows, idField: 'id', signal });

  const train = rows.filter((r) => (r.metadata as { split: string }).split === 'train').length;
  return {
    dataset: ctx.datasetName,
    datasetId,
    created,
    upserted: rows.length,
    failing: kept.filter((c) => c.bucket === 'failing').length,
    passing: kept.filter((c) => c.bucket === 'passing').length,
    duplicatesDropped: dropped,
    train,
    validation: rows.length - train,
    needsLabel,
    labeled,
    rowsFile,
    cohorts: [...cohorts].sort().slice(0, 50),
    ...(truncatedBuckets.length ? { candidatesTruncated: { cap: CANDIDATES_CAP, buckets: truncatedBuckets } } : {}),
    sampleRows: rows.slice(0, 5).map((r) => ({
      id: String(r.id),
      input: JSON.stringify(r.input).slice(0, 160),
      expected: r.expected === null ? null : JSON.stringify(r.expected).slice(0, 160),
      bucket: String((r.metadata as { bucket: string }).bucket),
    })),
  };
}
