/**
 * Coverage plane: production cohorts (Topics labels, metadata, tags) with their traffic and primary-score
 * statistics, against the rows of the datasets the project evaluates with, by the same cohort keys
 * (cohorts.ts has the matching rule). Failing cohorts get example traces.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SQL_MAX_LIMIT, datasetSource, fieldPath, isQuotable, sqlString } from '../../bt/sql.js';
import type { CohortStats, DatasetCoverage } from '../../workflows/logic/evidence.js';
import type { OrientContext } from '../../workflows/types.js';
import { NO_MATCH, cohortCondition, cohortId, cohortPath, datasetTopicMetadataPath, parseCohortId, type CohortKey } from '../cohorts.js';
import { EXAMPLES_PER_COHORT, LOW, each, n, nOrNull, str, type PlaneContext, type Row } from './context.js';
import type { PlaneQueries } from './pool.js';

const MAX_COHORT_VALUES = 25;
const MAX_COHORT_KEYS = 8;
/** Tag values measured as cohorts (from the schema sample). */
const MAX_TAG_COHORTS = 10;
/** Datasets measured for coverage. */
const MAX_COVERAGE_DATASETS = 10;
/** Cohorts that get example-trace queries (those with failures, worst first). */
export const MAX_COHORT_EXAMPLE_QUERIES = 10;

export interface CoverageEvidence {
  cohorts: CohortStats[];
  datasets: DatasetCoverage[];
  /** Which datasets coverage counts, and why. */
  note?: string;
  /** The cohorts that got example traces, worst first (the examples plane drills into the first ones). */
  worst: CohortStats[];
}

export async function coveragePlane(pc: PlaneContext): Promise<CoverageEvidence> {
  const { q, ctx, roots, traces, primary, scorePath: sc } = pc;
  const cohortKeys: CohortKey[] = [
    ...(ctx.topicFacets ?? []).filter(isQuotable).map((k) => ({ dimension: 'topic' as const, key: k })),
    ...ctx.metadataKeys.filter(isQuotable).map((k) => ({ dimension: 'metadata' as const, key: k })),
  ].slice(0, MAX_COHORT_KEYS);
  const measures = sc ? `COUNT(*) AS n, AVG(${sc}) AS mean, COUNT(${sc}) AS scored, count((${sc} <= ${LOW}) ? 1 : null) AS low` : 'COUNT(*) AS n';
  const cohortOf = (ck: CohortKey, value: string, r: Row, query: string): CohortStats => ({
    dimension: ck.dimension,
    key: ck.key,
    value,
    traffic: n(r.n),
    trafficShare: traces ? n(r.n) / traces : 0,
    score: primary,
    meanScore: sc ? nOrNull(r.mean) : null,
    lowScoreShare: sc && n(r.scored) ? n(r.low) / n(r.scored) : null,
    datasetRows: 0,
    datasetShare: 0,
    exampleTraceIds: [],
    query,
  });
  const byKey = each(cohortKeys, async (ck) => {
    const path = cohortPath(ck)!;
    const query = `SELECT ${path} AS value, ${measures} FROM ${roots} AND ${path} IS NOT NULL GROUP BY ${path} ORDER BY n DESC LIMIT ${MAX_COHORT_VALUES}`;
    // `no_match` is what Topics writes when nothing applies: never a cohort.
    const rows = (await q.run(query)).filter((r) => !(ck.dimension === 'topic' && str(r.value) === NO_MATCH));
    return rows.length < 2 ? [] : rows.map((r) => cohortOf(ck, str(r.value), r, query)); // one value is not a cohort split
  });
  // Tags: one bounded query for every tag value seen in the schema sample (a tag on every root is no split).
  const tagValues = (ctx.tagValues ?? []).filter(isQuotable).slice(0, MAX_TAG_COHORTS);
  const byTag = (async (): Promise<CohortStats[]> => {
    if (tagValues.length < 2) return [];
    const parts = tagValues.map((v, i) => {
      const inTag = `tags IN (${sqlString(v)})`;
      return sc
        ? `count((${inTag}) ? 1 : null) AS n${i}, AVG((${inTag}) ? ${sc} : null) AS mean${i}, count((${inTag}) ? ${sc} : null) AS scored${i}, count((${inTag} AND ${sc} <= ${LOW}) ? 1 : null) AS low${i}`
        : `count((${inTag}) ? 1 : null) AS n${i}`;
    });
    const query = `SELECT ${parts.join(', ')} FROM ${roots}`;
    const [row] = await q.run(query);
    return tagValues.flatMap((v, i) => {
      const r = { n: row?.[`n${i}`], mean: row?.[`mean${i}`], scored: row?.[`scored${i}`], low: row?.[`low${i}`] };
      return n(r.n) > 0 ? [cohortOf({ dimension: 'tag', key: 'tags' }, v, r, query)] : [];
    });
  })();
  // The datasets to count against are chosen while the cohort queries run; the keys are known up front.
  const chosenP = chooseDatasets(q, ctx, pc.datasetId);
  const [keyed, tagged, chosen] = await Promise.all([byKey, byTag, chosenP]);
  const cohorts = [...keyed.flat(), ...tagged];

  // The datasets the project evaluates with, and how many of their rows fall in each cohort.
  const coverage = await datasetCoverage(q, chosen, cohorts);
  for (const c of cohorts) {
    c.datasetRows = coverage.rowsByCohort.get(cohortId(c)) ?? 0;
    c.datasetShare = coverage.totalRows ? c.datasetRows / coverage.totalRows : 0;
  }
  // Example traces for the cohorts that fail at all, worst first (bounded number of queries; see examplesWhere).
  const worst = cohorts
    .filter((c) => c.lowScoreShare !== null && c.lowScoreShare > 0)
    .sort((a, b) => (b.lowScoreShare ?? 0) - (a.lowScoreShare ?? 0) || b.traffic - a.traffic)
    .slice(0, MAX_COHORT_EXAMPLE_QUERIES);
  // Only scored cohorts have a low-score share: without a primary score there are none (and no score to filter on).
  const examples = worst.length && primary ? await examplesOfCohorts(q, pc.src, worst, `is_root = true AND ${pc.W} AND ${fieldPath('scores', primary)} <= ${LOW}`) : [];
  worst.forEach((c, i) => (c.exampleTraceIds = examples[i]!));
  return { cohorts, datasets: coverage.datasets, ...(coverage.note ? { note: coverage.note } : {}), worst };
}

/**
 * Example traces of several cohorts: for each, the same ids `cohortExamples` finds, in fewer queries. Cohorts with an
 * exact condition (a quotable metadata value or tag) share one query, `rest AND (c1 OR c2 …) ORDER BY root_span_id
 * LIMIT 1000`, that selects only the cohort columns (never a whole `metadata`, so no large-field page limit). Root
 * spans are one per trace, so each cohort's rows in that answer are its smallest matching ids: a cohort with
 * `limit` of them there is done, and so is every cohort when the answer is short of `cap` rows (it holds every match).
 * Only a cohort left short in a full answer gets its own query. The rest (LIKE matches, topic labels) keep theirs.
 */
export async function examplesOfCohorts(
  q: PlaneQueries,
  from: string,
  cohorts: readonly CohortStats[],
  rest: string,
  { limit = EXAMPLES_PER_COHORT, cap = SQL_MAX_LIMIT }: { limit?: number; cap?: number } = {},
): Promise<string[][]> {
  const shared = cohorts.flatMap((c, i) => {
    const cond = cohortCondition(c);
    const column = c.dimension === 'tag' ? 'tags' : c.dimension === 'metadata' ? cohortPath(c) : null;
    return cond?.exact && column ? [{ i, c, cond, column }] : [];
  });
  const found = new Map<number, string[]>();
  if (shared.length > 1) {
    const columns = [...new Set(shared.map((x) => x.column))];
    const alias = (column: string) => `c${columns.indexOf(column)}`;
    const rows = await q.run(
      `SELECT root_span_id, ${columns.map((col) => `${col} AS ${alias(col)}`).join(', ')} FROM ${from} WHERE ${rest} AND (${shared.map((x) => x.cond.sql).join(' OR ')}) ORDER BY root_span_id LIMIT ${cap}`,
    );
    const complete = rows.length < cap;
    for (const { i, c, cond, column } of shared) {
      // The row as cohortCondition's check reads it: `tags`, or `metadata` holding the one key selected.
      const asRow = (r: Row) => (c.dimension === 'tag' ? { tags: r[alias(column)] } : { metadata: { [c.key]: r[alias(column)] } });
      const ids = rows.filter((r) => cond.keep(asRow(r))).slice(0, limit).map((r) => str(r.root_span_id));
      if (complete || ids.length === limit) found.set(i, ids);
    }
  }
  return each(cohorts, async (c, i) => found.get(i) ?? cohortExamples(q, from, c, rest, limit));
}

/** Example traces of a cohort: the smallest trace ids matching `rest` (see examplesWhere). */
export async function cohortExamples(q: PlaneQueries, from: string, c: CohortStats, rest: string, limit = EXAMPLES_PER_COHORT): Promise<string[]> {
  const cond = cohortCondition(c);
  if (!cond) return [];
  const column = c.dimension === 'tag' ? 'tags' : c.dimension === 'topic' ? 'classifications' : c.dimension === 'facet' ? 'facets' : 'metadata';
  const rows = await q.run(`SELECT root_span_id, ${column} FROM ${from} WHERE ${rest} AND ${cond.sql} ORDER BY root_span_id LIMIT ${cond.exact ? limit : limit * 20}`);
  return rows.filter(cond.keep).slice(0, limit).map((r) => str(r.root_span_id));
}

interface ChosenDatasets {
  datasets: { id: string; name: string }[];
  /** How they were chosen, for the note. */
  how: string;
  named: boolean;
  withFlywheel: boolean;
}

/**
 * The datasets the project evaluates with: those named in its eval or instruction files when any is, else
 * every dataset of the project (`bt datasets list`); plus the flywheel's own dataset.
 */
async function chooseDatasets(q: PlaneQueries, ctx: OrientContext, flywheelDatasetId: string | null): Promise<ChosenDatasets> {
  let listed: { id: string; name: string }[] = [];
  try {
    listed = (await q.call((bt, signal) => bt.datasetsList(ctx.project.name, { signal }), { optional: true })).map((d) => ({ id: d.id, name: d.name }));
  } catch {
    listed = [];
  }
  const named = await datasetsNamedIn(ctx, listed.map((d) => d.name));
  const chosen = named.length ? listed.filter((d) => named.includes(d.name)) : listed.filter((d) => d.id !== flywheelDatasetId && d.name !== ctx.datasetName);
  const how = named.length ? `named in ${[...ctx.evalFiles, ...ctx.instructionFiles].join(', ')}` : 'every dataset of the project';
  const flywheel = flywheelDatasetId ? { id: flywheelDatasetId, name: ctx.datasetName } : listed.find((d) => d.name === ctx.datasetName);
  if (flywheel && !chosen.some((d) => d.id === flywheel.id)) chosen.push(flywheel);
  return { datasets: chosen.slice(0, MAX_COVERAGE_DATASETS), how, named: named.length > 0, withFlywheel: !!flywheel };
}

interface CoverageResult {
  datasets: DatasetCoverage[];
  /** Rows of all measured datasets per cohort id, and their total. */
  rowsByCohort: Map<string, number>;
  totalRows: number;
  note?: string;
}

/** Each chosen dataset's rows counted per cohort by the matching rule in cohorts.ts (metadata key, tag, topic label). */
async function datasetCoverage(q: PlaneQueries, chosen: ChosenDatasets, cohorts: CohortStats[]): Promise<CoverageResult> {
  const keys = new Map<string, CohortKey>();
  for (const c of cohorts) keys.set(`${c.dimension}:${c.key}`, { dimension: c.dimension, key: c.key });
  const tagValues = cohorts.filter((c) => c.dimension === 'tag').map((c) => c.value);
  const perDataset = await each(chosen.datasets, async (d) => {
    const source = datasetSource(d.id);
    const dq = `SELECT metadata.split AS split, COUNT(*) AS n, count((expected IS NULL) ? 1 : null) AS unlabeled FROM ${source} GROUP BY metadata.split`;
    const counts = new Map<string, number>();
    const add = (id: string, k: number) => k && counts.set(id, (counts.get(id) ?? 0) + k);
    const keyQueries = [...keys.values()].map(async (ck): Promise<Array<[string, number]>> => {
      if (ck.dimension === 'tag') return [];
      const path = cohortPath(ck);
      if (!path) return [];
      if (ck.dimension === 'topic') {
        // A row counts once: its classification label, else the label recorded in metadata.topics.
        const meta = datasetTopicMetadataPath(ck.key);
        const rows = await q.run(`SELECT ${path} AS a, ${meta} AS b, COUNT(*) AS n FROM ${source} WHERE ${path} IS NOT NULL OR ${meta} IS NOT NULL GROUP BY ${path}, ${meta}`);
        return rows.flatMap((r) => {
          const v = r.a !== null && r.a !== undefined ? str(r.a) : str(r.b);
          return v !== NO_MATCH ? [[cohortId({ ...ck, value: v }), n(r.n)] as [string, number]] : [];
        });
      }
      const rows = await q.run(`SELECT ${path} AS value, COUNT(*) AS n FROM ${source} WHERE ${path} IS NOT NULL GROUP BY ${path}`);
      return rows.map((r) => [cohortId({ ...ck, value: str(r.value) }), n(r.n)] as [string, number]);
    });
    const tagQuery = tagValues.length
      ? q.run(`SELECT ${tagValues.map((v, i) => `count((tags IN (${sqlString(v)})) ? 1 : null) AS t${i}`).join(', ')} FROM ${source}`)
      : Promise.resolve([] as Row[]);
    const [splits, keyed, [tagRow]] = await Promise.all([q.run(dq), Promise.all(keyQueries), tagQuery]);
    for (const pairs of keyed) for (const [id, k] of pairs) add(id, k);
    if (tagValues.length) tagValues.forEach((v, i) => add(cohortId({ dimension: 'tag', key: 'tags', value: v }), n(tagRow?.[`t${i}`])));
    const byKey = (k: string) => splits.filter((r) => str(r.split) === k).reduce((a, r) => a + n(r.n), 0);
    const coverage: DatasetCoverage = {
      datasetId: d.id,
      name: d.name,
      rows: splits.reduce((a, r) => a + n(r.n), 0),
      trainRows: byKey('train'),
      validationRows: byKey('validation'),
      unlabeledRows: splits.reduce((a, r) => a + n(r.unlabeled), 0),
      cohorts: [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, rowsN]) => {
        const c = parseCohortId(id)!;
        return { dimension: c.dimension, key: c.key, value: c.value, rows: rowsN };
      }),
      query: dq,
    };
    return { coverage, counts };
  });
  const rowsByCohort = new Map<string, number>();
  let totalRows = 0;
  for (const { coverage, counts } of perDataset) {
    totalRows += coverage.rows;
    for (const [id, k] of counts) rowsByCohort.set(id, (rowsByCohort.get(id) ?? 0) + k);
  }
  const names = chosen.datasets.map((d) => d.name);
  const note = names.length
    ? `coverage measured against ${names.join(', ')} (${chosen.named ? chosen.how : `${chosen.how}${chosen.withFlywheel ? ' and the flywheel dataset' : ''}`}; ${totalRows} rows)`
    : 'no datasets in the project: every cohort reads 0 eval-dataset rows';
  return { datasets: perDataset.map((d) => d.coverage), rowsByCohort, totalRows, note };
}

/** Dataset names that appear as quoted strings in the project's eval files or instruction files. */
async function datasetsNamedIn(ctx: OrientContext, names: string[]): Promise<string[]> {
  if (!names.length) return [];
  let text = '';
  for (const f of [...ctx.evalFiles, ...ctx.instructionFiles]) {
    try {
      const path = join(ctx.agentDir, f);
      if ((await stat(path)).isFile()) text += `\n${await readFile(path, 'utf8')}`;
    } catch {
      // unreadable or a directory: skip
    }
  }
  return names.filter((name) => ['"', "'", '`'].some((qt) => text.includes(`${qt}${name}${qt}`)));
}
