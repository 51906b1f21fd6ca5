/**
 * Cohort keys: how a cohort id (`topic:Task=Returns & refunds`, `metadata:category=escalation`,
 * `tag:tags=tier:free`) becomes a field path, a SQL condition and an exact per-row check, for production
 * logs and for dataset rows.
 *
 * Cohorts come from:
 * - Topics classifications: `classifications.<Facet>[0].label`, the topic the Braintrust Topics pipeline
 *   clustered the trace into (braintrust.dev/docs/observe/topics). Never the raw `facets.<Facet>` text,
 *   which is a per-trace free-text summary, and never the literal `no_match`.
 * - root `metadata.<key>` scalars, and root `tags` values.
 *
 * Matching dataset rows to a cohort (coverage): a dataset row covers
 * - `metadata:<k>=<v>` when its `metadata.<k>` is `<v>`;
 * - `tag:tags=<v>` when `<v>` is one of its `tags`;
 * - `topic:<Facet>=<L>` when its `classifications.<Facet>[0].label` is `<L>` (rows copied from classified
 *   logs), or its `metadata.topics.<Facet>` is `<L>` (the flywheel's curated rows record the topic labels of
 *   their source trace there; hand-made rows can do the same).
 */
import { fieldPath, isQuotable, sqlString, textEquals } from '../bt/sql.js';
import type { CohortDimension } from '../workflows/logic/evidence.js';

/** Topics writes this when no summary applies; it is never a cohort. */
export const NO_MATCH = 'no_match';

export interface CohortKey {
  dimension: CohortDimension;
  key: string;
}

export const cohortId = (c: CohortKey & { value: string }): string => `${c.dimension}:${c.key}=${c.value}`;

export function parseCohortId(id: string): (CohortKey & { value: string }) | null {
  const m = /^(topic|metadata|tag|facet):(.+?)=(.*)$/s.exec(id);
  return m ? { dimension: m[1] as CohortDimension, key: m[2]!, value: m[3]! } : null;
}

/** The SQL expression a scalar cohort groups on (topic, metadata, legacy facet); null for tags (an array). */
export function cohortPath(c: CohortKey): string | null {
  if (!isQuotable(c.key)) return null;
  switch (c.dimension) {
    case 'topic':
      return `${fieldPath('classifications', c.key)}[0].label`;
    case 'metadata':
      return fieldPath('metadata', c.key);
    case 'facet':
      return fieldPath('facets', c.key);
    default:
      return null;
  }
}

/** Where a dataset row may carry a topic label besides its classifications (see the header). */
export const datasetTopicMetadataPath = (facet: string): string => fieldPath('metadata', 'topics', facet);

/** The topic label of a row (`classifications.<Facet>[0].label`), or undefined. */
export function topicLabelOf(row: Record<string, unknown>, facet: string): string | undefined {
  const cls = row.classifications as Record<string, unknown> | null | undefined;
  const list = cls && typeof cls === 'object' ? cls[facet] : undefined;
  const first = Array.isArray(list) ? (list[0] as { label?: unknown } | undefined) : undefined;
  return typeof first?.label === 'string' && first.label !== NO_MATCH ? first.label : undefined;
}

/** Every topic label of a row, facet → label (for the flywheel's curated rows, `metadata.topics`). */
export function topicLabelsOf(row: Record<string, unknown>): Record<string, string> {
  const cls = row.classifications as Record<string, unknown> | null | undefined;
  const out: Record<string, string> = {};
  if (!cls || typeof cls !== 'object') return out;
  for (const facet of Object.keys(cls).sort()) {
    const label = topicLabelOf(row, facet);
    if (label !== undefined) out[facet] = label;
  }
  return out;
}

export interface CohortCondition {
  /** A SQL condition (no leading AND). */
  sql: string;
  /** True when `sql` selects exactly the cohort; false when rows must be narrowed with `keep`. */
  exact: boolean;
  /** The exact check on a returned row (which must carry the column the cohort reads: metadata, tags, classifications, facets). */
  keep(row: Record<string, unknown>): boolean;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

/** The SQL condition and exact row check selecting a cohort in production logs; null when it cannot be expressed. */
export function cohortCondition(c: CohortKey & { value: string }): CohortCondition | null {
  if (c.dimension === 'tag') {
    if (!isQuotable(c.value)) return null;
    return { sql: `tags IN (${sqlString(c.value)})`, exact: true, keep: (row) => Array.isArray(row.tags) && row.tags.includes(c.value) };
  }
  const path = cohortPath(c);
  if (!path) return null;
  const match = textEquals(path, c.value);
  const keep = (row: Record<string, unknown>): boolean => {
    if (c.dimension === 'topic') return match.matches(topicLabelOf(row, c.key) ?? '');
    const obj = row[c.dimension === 'facet' ? 'facets' : 'metadata'];
    return match.matches(text(obj && typeof obj === 'object' ? (obj as Record<string, unknown>)[c.key] : undefined));
  };
  return { sql: match.sql, exact: match.exact, keep };
}
