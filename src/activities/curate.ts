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
import type { Dataset, DatasetRecordInput } from '../bt/schemas.js';
import { LARGE_FIELD_PAGE_SIZE, SQL_MAX_LIMIT, datasetSource, fieldPath, isQuotable, pageQuery, projectLogs, sqlString } from '../bt/sql.js';
import { cohortCondition, parseCohortId, topicLabelsOf } from './cohorts.js';
import type { RouteTarget } from '../workflows/logic/diagnose.js';
import type { CurateResult, CurationPlan, OrientContext } from '../workflows/types.js';
import { cleanText } from '../untrusted.js';
import { readChecked, readJson, writeJsonAtomic, writeJsonlAtomic, type FileRef } from './files.js';
import { ChildEnvError, childEnv, expandArgv } from '../child-env.js';
import { runSubprocess, tail } from './subprocess.js';
import { windowClause } from './discover.js';
import { DISCOVER_CONCURRENCY, QueryPool } from './discover/pool.js';

export const TRAIN_FRACTION = 0.8;
export const SPLIT_SEED = 'flywheel-v1';
/** Seed of the candidate sample (with the workflow id, iteration and route). */
export const SAMPLE_SEED = 'flywheel-sample-v1';
const PER_BUCKET = 40;
/** Candidate rows read in full per bucket (they carry input and output, so in pages of `LARGE_FIELD_PAGE_SIZE`). */
export const CANDIDATES_CAP = PER_BUCKET * 3;
/** Matching rows indexed (ids and scores) per bucket, newest first, to sample from. */
export const INDEX_CAP = 3000;
/** The widest window a pull widens to when the evidence window has too few rows not curated yet. */
export const MAX_WINDOW_DAYS = 30;
/** Dataset ids read to leave already-curated rows out. */
const CURATED_IDS_CAP = 50_000;
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
  /** `bt` calls of the candidate pull in flight at once (default CURATE_CONCURRENCY; 1 reads one at a time). */
  concurrency?: number;
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
  /** True when `sql` selects exactly the cohort; otherwise rows must carry the cohort's columns for `keep`. */
  exact: boolean;
  /** The exact comparison on a returned row (the SQL may be a LIKE superset: see textEquals in src/bt/sql.ts). */
  keep(row: Record<string, unknown>): boolean;
}

const ALL: CohortFilter = { sql: '', exact: true, keep: () => true };

/** A SQL condition per cohort target of the route (a merged route has several lenses on one failure). */
function cohortFilters(targets: RouteTarget[]): CohortFilter[] {
  const out: CohortFilter[] = [];
  for (const t of targets) {
    if (t.kind !== 'cohort') continue;
    const c = parseCohortId(t.name);
    const cond = c ? cohortCondition(c) : null;
    if (!cond) continue;
    out.push({ sql: ` AND ${cond.sql}`, exact: cond.exact, keep: cond.keep });
  }
  return out;
}

/**
 * Seeded random order (the seed's `ORDER BY RANDOM()`, made reproducible): ids sorted by a hash of seed and id. The
 * same seed gives the same sample on a retried activity; another iteration's seed samples afresh.
 */
export function seededOrder<T>(items: readonly T[], seed: string, idOf: (t: T) => string): T[] {
  const key = (t: T) => createHash('sha256').update(`${seed}:${idOf(t)}`).digest('hex');
  return items
    .map((t) => ({ t, k: key(t) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.t);
}

/** The windows a pull may use, narrowest first: the evidence window, then doubled up to MAX_WINDOW_DAYS. */
export function widenedWindows(days: number, max = MAX_WINDOW_DAYS): number[] {
  const out = [Math.max(1, Math.trunc(days))];
  while (out[out.length - 1]! < max) out.push(Math.min(max, out[out.length - 1]! * 2));
  return out;
}

interface PulledCandidates {
  candidates: Candidate[];
  /** Buckets whose id index hit `INDEX_CAP` with more matching rows left (the sample covers the newest ones). */
  truncated: Array<Candidate['bucket']>;
  /** Days the candidates were drawn from, and the evidence window's days when that had to be widened. */
  windowDays: number;
  widenedFrom?: number;
  /** Matching production rows left out because the dataset already holds them. */
  alreadyCurated: number;
  seed: string;
  /** Candidates read in full that were near-duplicates of one read before them (absent in older pinned reads). */
  duplicatesDropped?: number;
}

/**
 * `bt` calls of one candidate pull in flight at once: the pool Discover uses (src/activities/discover/pool.ts). The
 * reads that do not depend on each other overlap — the dataset's ids, the failing and passing indexes, the full rows
 * of both samples — while what depends on an answer still waits for it, so the rows drawn are the ones the same
 * reads made one after another would draw.
 */
export const CURATE_CONCURRENCY = DISCOVER_CONCURRENCY;

/** The project's datasets (`bt datasets list`), and the ids (record ids) of the rows the dataset already holds. */
async function curatedIds(pool: QueryPool, p: CurateParams): Promise<{ datasets: Dataset[]; datasetId: string | null; ids: Set<string> }> {
  const datasets = await pool.call((bt, signal) => bt.datasetsList(p.ctx.project.name, { signal }));
  const existing = datasets.find((d) => d.name === p.ctx.datasetName);
  if (!existing) return { datasets, datasetId: null, ids: new Set() };
  // A retry must bring rows not curated before.
  const res = await pool.call((bt, signal) => bt.sqlPages(`SELECT id FROM ${datasetSource(existing.id)}`, { signal, pageSize: SQL_MAX_LIMIT, maxRows: CURATED_IDS_CAP }));
  return { datasets, datasetId: existing.id, ids: new Set(res.data.map((r) => String(r.id))) };
}

/** Handles a promise's rejection now (it is awaited, or deliberately dropped, later). */
function settled<T>(x: Promise<T>): Promise<T> {
  x.catch(() => undefined);
  return x;
}

async function pullCandidates(bt: BtClient, p: CurateParams, signal?: AbortSignal): Promise<PulledCandidates & { datasets: Dataset[] }> {
  const pool = new QueryPool(bt, { concurrency: p.concurrency ?? CURATE_CONCURRENCY, ...(signal ? { signal } : {}) });
  try {
    const pulled = await pullWith(pool, p);
    // A speculative read left unused (the window widened) is stopped rather than left running.
    pool.abort(new Error('curation pull finished'));
    await pool.drain();
    return pulled;
  } catch (err) {
    // Stop what is still running; the first failure is the one reported (the others are the cancellations it caused).
    pool.abort(err);
    await pool.drain();
    throw pool.failure;
  }
}

async function pullWith(pool: QueryPool, p: CurateParams): Promise<PulledCandidates & { datasets: Dataset[] }> {
  const score = p.targets.find((t) => t.kind === 'score')?.name ?? p.ctx.primaryScore;
  if (!score) throw ApplicationFailure.nonRetryable('dataset curation needs a score column to tell failing from passing rows; none was discovered', 'NoScore');
  const col = fieldPath('scores', score);
  const filters = cohortFilters(p.targets);
  const seed = `${SAMPLE_SEED}:${p.ctx.workflowId}:${p.iteration}:${p.routeId}`;

  // 1. An index of the matching rows (ids and scores; the cohort's columns only when its SQL is a superset), per
  //    window: the evidence window first, widened while too few rows are left that the dataset does not hold yet.
  //    The dataset's ids, the failing index and the passing indexes of the first and the last lens (evidence window)
  //    are read at once; a read that turns out not to be needed (the window widened, an earlier lens had rows) is
  //    stopped or dropped. Optional reads: their failure does not stop the pull unless they are used (one read at a
  //    time would never have made them).
  const index = (filter: CohortFilter, days: number, cond: string, opts: { optional?: boolean; stop?: AbortSignal } = {}) =>
    settled(
      pool.call(
        async (bt, signal) => {
          const extra = filter.exact ? '' : ', metadata, tags, facets, classifications';
          const res = await bt.sqlPages(
            `SELECT root_span_id, ${col} AS score${extra} FROM ${projectLogs(p.ctx.project.id)} WHERE is_root = true AND ${windowClause(days)} AND input IS NOT NULL${filter.sql} AND ${cond}`,
            { signal: opts.stop ? AbortSignal.any([signal, opts.stop]) : signal, pageSize: filter.exact ? SQL_MAX_LIMIT : LARGE_FIELD_PAGE_SIZE, maxRows: INDEX_CAP, order: 'desc' },
          );
          // An exact condition needs no check here (its rows do not carry the cohort's columns).
          return { rows: filter.exact ? res.data : res.data.filter(filter.keep), truncated: res.truncated };
        },
        { optional: opts.optional ?? false },
      ),
    );
  const windows = widenedWindows(p.windowDays);
  const first = filters[0] ?? ALL;
  const failingCond = `${col} <= ${FAIL_AT}`;
  const passingCond = `${col} >= ${PASS_AT}`;
  const passingLenses = [...filters, ALL];
  const failing0 = index(first, windows[0]!, failingCond);
  const stopSpeculation = new AbortController();
  const passing0 = new Map<number, ReturnType<typeof index>>();
  for (const i of new Set([0, passingLenses.length - 1])) {
    passing0.set(i, index(passingLenses[i]!, windows[0]!, passingCond, { optional: true, ...(i > 0 ? { stop: stopSpeculation.signal } : {}) }));
  }
  const curatedP = settled(curatedIds(pool, p));

  // 2. A seeded random sample of the index, read in full (input and output) by id: one request per ≤ 100 ids
  //    (chunks of equal size), all of them at once.
  const pick = (rows: Record<string, unknown>[], n: number) =>
    seededOrder(rows.map((r) => String(r.root_span_id)).filter(isQuotable), seed, (id) => id).slice(0, n);
  const read = (ids: string[], days: number): Promise<Map<string, Record<string, unknown>>> =>
    Promise.all(
      chunks(ids, LARGE_FIELD_PAGE_SIZE).map((chunk) =>
        pool.call((bt, signal) =>
          // The ids are distinct, so `chunk.length` rows is every row there is: one request, no second page.
          bt.sql(
            pageQuery(
              `SELECT root_span_id, input, output, metadata, tags, facets, classifications, ${col} AS score FROM ${projectLogs(p.ctx.project.id)} WHERE is_root = true AND ${windowClause(days)} AND root_span_id IN (${chunk.map(sqlString).join(', ')})`,
              { limit: chunk.length },
            ),
            { signal },
          ),
        ),
      ),
    ).then((pages) => new Map(pages.flatMap((res) => (res.data as Record<string, unknown>[]).map((r) => [String(r.root_span_id), r] as const))));
  // In sample order, so the near-duplicate dedupe below keeps the same rows on every retry.
  const inOrder = (ids: string[], byId: Map<string, Record<string, unknown>>, bucket: Candidate['bucket']) =>
    ids.flatMap((id) => {
      const r = byId.get(id);
      return r ? [toCandidate(r, bucket)] : [];
    });

  // Failing: the index (widened as needed), then its sample's rows — while the passing side reads its own.
  const { ids: curated } = await curatedP;
  const isCurated = (traceId: string) => curated.has(recordId(p.ctx.project.id, traceId));
  const fresh = (read: { rows: Record<string, unknown>[]; truncated: boolean }) => {
    const rows = read.rows.filter((r) => !isCurated(String(r.root_span_id)));
    return { fresh: rows, curated: read.rows.length - rows.length, truncated: read.truncated };
  };
  let days = windows[0]!;
  let failing = fresh(await failing0);
  for (const d of windows.slice(1)) {
    if (failing.fresh.length >= PER_BUCKET) break;
    days = d;
    failing = fresh(await index(first, days, failingCond));
  }
  const failingIds = pick(failing.fresh, CANDIDATES_CAP);
  const failingRead = settled(read(failingIds, days));

  // Passing rows from the same cohort when it has any; a label that only marks failures (an issue facet) has
  // none, so try the route's other lenses, then production at large: the dataset must not be only hard cases.
  // The passing sample is a prefix of one seeded order; how long a prefix depends on the failing rows kept (below),
  // so the longest one is read, alongside the failing rows, and cut to the prefix the balance asks for.
  const passingSide = settled(
    (async () => {
      let passing: ReturnType<typeof fresh> = { fresh: [], curated: 0, truncated: false };
      for (const [i, filter] of passingLenses.entries()) {
        const speculative = days === windows[0] ? passing0.get(i) : undefined;
        passing = fresh(await (speculative ?? index(filter, days, passingCond)));
        if (passing.fresh.length) break;
      }
      stopSpeculation.abort();
      const ids = pick(passing.fresh, CANDIDATES_CAP);
      return { passing, ids, rows: await read(ids, days) };
    })(),
  );

  const fd = dedupe(inOrder(failingIds, await failingRead, 'failing'));
  const f = fd.kept.slice(0, PER_BUCKET);
  // Balance: no more passing than failing rows (and at least a few, so the set is not only hard cases).
  const want = Math.max(f.length, 5);
  const { passing, ids: passingIds, rows: passingRows } = await passingSide;
  const pd = dedupe(inOrder(passingIds.slice(0, Math.min(CANDIDATES_CAP, want * 3)), passingRows, 'passing'));
  const p2 = pd.kept.slice(0, want);
  const truncated: Array<Candidate['bucket']> = [];
  if (failing.truncated) truncated.push('failing');
  if (passing.truncated) truncated.push('passing');
  return {
    candidates: [...f, ...p2],
    duplicatesDropped: fd.dropped + pd.dropped,
    truncated,
    windowDays: days,
    ...(days !== windows[0] ? { widenedFrom: windows[0] } : {}),
    alreadyCurated: failing.curated + passing.curated,
    seed,
    datasets: (await curatedP).datasets,
  };
}

/** `xs` in the fewest chunks of at most `n`, of equal size (±1). */
function chunks<T>(xs: readonly T[], n: number): T[][] {
  const count = Math.ceil(xs.length / n);
  const out: T[][] = [];
  for (let i = 0; i < count; i++) out.push(xs.slice(Math.floor((i * xs.length) / count), Math.floor(((i + 1) * xs.length) / count)));
  return out;
}


function toCandidate(r: Record<string, unknown>, bucket: Candidate['bucket']): Candidate {
  return {
    traceId: String(r.root_span_id),
    input: r.input,
    output: r.output,
    metadata: (r.metadata as Record<string, unknown> | null) ?? null,
    facets: (r.facets as Record<string, unknown> | null) ?? null,
    topics: topicLabelsOf(r),
    score: typeof r.score === 'number' ? r.score : null,
    bucket,
  };
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

/** Rows of the sample shown at the write gate: up to this many failing rows, then passing ones, SAMPLE_ROWS in all. */
export const SAMPLE_ROWS = 5;
const SAMPLE_FAILING = 3;
/** Characters of input and label per sample row (the gate shows production text as data: stripped, cut, fenced). */
export const SAMPLE_TEXT_CHARS = 200;

const PLAN_FILE = 'curation-plan.json';

/** Text of an input or label for the gate: JSON (or the string itself), control characters stripped, cut. */
function sampleText(v: unknown): string {
  return cleanText(typeof v === 'string' ? v : JSON.stringify(v ?? null), SAMPLE_TEXT_CHARS, false);
}

/**
 * Step 1 of curation (before the write gate): candidates pulled (pinned in the run directory, so a retry reads the
 * same rows), deduped, labeled, split; the dataset rows written to `dataset-rows.jsonl` and the plan to
 * `curation-plan.json`. Nothing is written to Braintrust. Returns the counts and a small sample for the gate.
 */
export async function prepareCuration(bt: BtClient, p: CurateParams, signal?: AbortSignal, heartbeat?: () => void): Promise<CurationPlan> {
  const { ctx } = p;
  // Candidates are pinned in the run directory: a retried activity writes exactly the same rows.
  const candidatesPath = join(p.dir, 'candidates.json');
  const readPath = join(p.dir, 'candidates-read.json');
  let candidates: Candidate[];
  type ReadInfo = Omit<PulledCandidates, 'candidates'> & { cap: number };
  let read: ReadInfo;
  /** The project's datasets as the pull listed them (nothing in this activity writes one in between). */
  let listed: Dataset[] | null = null;
  if (existsSync(candidatesPath)) {
    candidates = await readJson<Candidate[]>(candidatesPath);
    const recorded = existsSync(readPath) ? await readJson<Partial<ReadInfo>>(readPath) : {};
    read = { cap: INDEX_CAP, truncated: [], windowDays: p.windowDays, alreadyCurated: 0, seed: '', ...recorded };
  } else {
    const { candidates: pulled, datasets, ...info } = await pullCandidates(bt, p, signal);
    candidates = pulled;
    listed = datasets;
    read = { cap: INDEX_CAP, ...info };
    await writeJsonAtomic(readPath, read);
    await writeJsonAtomic(candidatesPath, candidates);
  }
  const { kept, dropped } = dedupe(candidates);
  const labels = await label(p, kept, signal, heartbeat);

  let needsLabel = 0;
  let labeled = 0;
  const cohorts = new Set<string>();
  const sources: string[] = [];
  const rows: DatasetRecordInput[] = kept.map((c) => {
    const key = nearDuplicateKey(c.input);
    const split = assignSplit(key);
    const fromLabeler = labels.get(c.traceId);
    // Passing rows may keep their (good) production output as the reference; failing rows never do.
    const expected = fromLabeler ?? (c.bucket === 'passing' && !p.labeler ? c.output : null);
    const labelSource = fromLabeler !== undefined ? 'labeler' : expected !== null ? 'production_output_passing' : 'needs_label';
    sources.push(labelSource);
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
  const existing = (listed ?? (await bt.datasetsList(ctx.project.name, { signal }))).find((d) => d.name === ctx.datasetName);

  const meta = (r: DatasetRecordInput) => r.metadata as { split: 'train' | 'validation'; bucket: 'failing' | 'passing'; source_trace_id: string };
  const train = rows.filter((r) => meta(r).split === 'train').length;
  // The sample: a few failing rows, then passing ones, in curation order.
  const indexed = rows.map((r, i) => ({ r, i }));
  const failingRows = indexed.filter(({ r }) => meta(r).bucket === 'failing');
  const passingRows = indexed.filter(({ r }) => meta(r).bucket === 'passing');
  const nFailing = Math.min(failingRows.length, Math.max(SAMPLE_FAILING, SAMPLE_ROWS - passingRows.length));
  const picked = [...failingRows.slice(0, nFailing), ...passingRows.slice(0, SAMPLE_ROWS - nFailing)];
  const plan: Omit<CurationPlan, 'planFile'> = {
    dataset: ctx.datasetName,
    existingDatasetId: existing?.id ?? null,
    rows: rows.length,
    failing: kept.filter((c) => c.bucket === 'failing').length,
    passing: kept.filter((c) => c.bucket === 'passing').length,
    // Near-duplicates among the candidates read, and across the failing and passing buckets.
    duplicatesDropped: (read.duplicatesDropped ?? 0) + dropped,
    train,
    validation: rows.length - train,
    needsLabel,
    labeled,
    rowsFile,
    ...(read.truncated.length ? { candidatesTruncated: { cap: read.cap, buckets: read.truncated } } : {}),
    sample: {
      windowDays: read.windowDays,
      ...(read.widenedFrom !== undefined ? { widenedFrom: read.widenedFrom } : {}),
      alreadyCurated: read.alreadyCurated,
      seed: read.seed,
    },
    sampleRows: picked.map(({ r, i }) => ({
      id: String(r.id),
      traceId: meta(r).source_trace_id,
      bucket: meta(r).bucket,
      split: meta(r).split,
      input: sampleText(r.input),
      expected: r.expected === null ? null : sampleText(r.expected),
      labelSource: sources[i]!,
    })),
  };
  const planFile = await writeJsonAtomic(join(p.dir, PLAN_FILE), { plan, cohorts: [...cohorts].sort().slice(0, 50) });
  return { ...plan, planFile };
}

/**
 * Step 2 of curation (after the write gate approved it): the rows `prepareCuration` wrote — checked against the plan
 * the gate showed (sha256) — upserted into the dataset, which is created if missing. Idempotent (stable row ids).
 */
export async function upsertCuration(bt: BtClient, p: { ctx: OrientContext; planFile: FileRef }, signal?: AbortSignal): Promise<CurateResult> {
  const { ctx } = p;
  // What the gate showed, byte for byte (files.ts readChecked), or nothing is upserted.
  const shown = async (ref: FileRef, what: string, them: string): Promise<string> => {
    const r = await readChecked(ref);
    if ('text' in r) return r.text;
    const why = r.why === 'changed' ? `changed after the write gate showed ${them}` : `cannot be read (${r.detail})`;
    throw ApplicationFailure.nonRetryable(`${what} ${ref.path} ${why}; nothing was upserted`, 'CurationPlanChanged');
  };
  const { plan, cohorts } = JSON.parse(await shown(p.planFile, 'the curation plan', 'it')) as { plan: Omit<CurationPlan, 'planFile'>; cohorts: string[] };
  const rows: DatasetRecordInput[] = plan.rowsFile
    ? (await shown(plan.rowsFile, 'the curated rows', 'them'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as DatasetRecordInput)
    : [];
  const existing = (await bt.datasetsList(ctx.project.name, { signal })).find((d) => d.name === plan.dataset);
  let created = false;
  let datasetId = existing?.id ?? null;
  if (!existing) {
    const res = await bt.datasetsCreate(ctx.project.name, plan.dataset, {
      description: `Curated by bt-flywheel from production traces of ${ctx.project.name}`,
      signal,
    });
    datasetId = res.dataset.id;
    created = true;
  }
  if (rows.length) await bt.datasetsUpdate(ctx.project.name, plan.dataset, { rows, idField: 'id', signal });
  return {
    dataset: plan.dataset,
    datasetId,
    created,
    upserted: rows.length,
    failing: plan.failing,
    passing: plan.passing,
    duplicatesDropped: plan.duplicatesDropped,
    train: plan.train,
    validation: plan.validation,
    needsLabel: plan.needsLabel,
    labeled: plan.labeled,
    rowsFile: plan.rowsFile,
    cohorts,
    ...(plan.candidatesTruncated ? { candidatesTruncated: plan.candidatesTruncated } : {}),
    ...(plan.sample ? { sample: plan.sample } : {}),
    // The write gate showed the sample (prepareCuration's result); not repeated here, to keep history small.
    sampleRows: [],
  };
}

/**
 * Curation in one step, without a gate in between (the activity histories recorded before the write gate showed the
 * candidates call): prepare, then upsert.
 */
export async function curateDataset(bt: BtClient, p: CurateParams, signal?: AbortSignal, heartbeat?: () => void): Promise<CurateResult> {
  const plan = await prepareCuration(bt, p, signal, heartbeat);
  return upsertCuration(bt, { ctx: p.ctx, planFile: plan.planFile }, signal);
}
