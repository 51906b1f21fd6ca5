/**
 * Contracts between the workflow and its activities: small, typed summaries and file references.
 * Types only (no runtime code), so the workflow bundle stays free of activity code.
 */
import type { FileRef } from './logic/evidence.js';
import type { EvalEnvRecord } from '../eval-env.js';

export type ProjectSource = 'input' | 'bt-config' | 'instructions' | 'projects-list';
export type BaselineSource = 'env' | 'session' | 'latest' | 'none';

/** What Orient established; every later phase works from it. */
export interface OrientContext {
  workflowId: string;
  runDir: string;
  project: { id: string; name: string; source: ProjectSource; sourceDetail: string };
  org: string;
  /** Base of Braintrust UI links (https://www.braintrust.dev, or the local server). */
  appUrl: string;
  baseline: { id: string; name: string; chosenBy: BaselineSource } | null;
  /** Column names from schema discovery (root spans), and the window in which they were found. */
  scoreColumns: string[];
  facetColumns: string[];
  /**
   * Topics facets with classifications on root spans (`classifications.<Facet>[0].label` holds the topic);
   * empty when the project has no Topics automation data. Absent in histories recorded before it existed.
   */
  topicFacets?: string[];
  /** Root tag values seen in the schema sample that split traffic (not on every root). */
  tagValues?: string[];
  metadataKeys: string[];
  schemaWindowDays: number | null;
  primaryScore: string | null;
  /** Scores that are pass/fail by design (from the project instructions): a 0/1 split is not a scorer bug. */
  binaryScores: string[];
  /** Where the agent's code is worked on (the repository, or its copy in the run directory). */
  agentDir: string;
  evalFiles: string[];
  evalFilesSource: string;
  datasetName: string;
  /** Files read for project instructions (AGENTS.md, CLAUDE.md…). */
  instructionFiles: string[];
  /**
   * bt eval's extra environment: the files and names to load (paths and NAMES only, never values) and what
   * they resolved to on the worker at Orient. Absent in histories recorded before it existed.
   */
  evalEnv?: EvalEnvRecord;
  /** Paired evals run at once (config `evalConcurrency`). Absent in histories recorded before it existed: one at a time. */
  evalConcurrency?: number;
  notes: string[];
  /**
   * The same context, as Orient wrote it to the run directory (`context.json`): activities are sent this reference
   * instead of the whole context (src/workflows/by-reference.ts). Absent in histories recorded before it existed.
   */
  stored?: StoredRef;
}

/**
 * A file in the run directory holding an activity's result as it returned it (without `stored`). The workflow keeps
 * the whole result (its decisions need it) but sends later activities `{ stored, …fields the workflow changed }`,
 * and the activity reads the file back, checking its sha256 (src/activities/stored.ts).
 */
/**
 * How the handoff activity recomputes the run's last diagnosis from the evidence it reads by reference (diagnose() is
 * pure), instead of the workflow sending it: the options the workflow used, and the digest (logic/digest.ts) of
 * the diagnosis the run acted on, to confirm the recomputation matches.
 */
export interface DiagnosisRecipe {
  binaryScores: string[];
  primaryScore?: string;
  /** As passed to diagnose() (absent in recipes of runs that predate coverage-gap routes: diagnosed without them). */
  coverageGapRoutes?: boolean;
  /**
   * The run diagnosed the evidence with numbered queries (logic/query-table.ts): the digest is of that diagnosis, and
   * the handoff numbers the file's queries the same way before comparing, then puts the texts back.
   */
  queriesByNumber?: boolean;
  digest: string;
}

export interface StoredRef extends FileRef {
  kind: 'context' | 'eval';
}

/** What a curation drew: the counts shown at the write gate and reported after the upsert. */
export interface CurationCounts {
  failing: number;
  passing: number;
  duplicatesDropped: number;
  train: number;
  validation: number;
  needsLabel: number;
  labeled: number;
  rowsFile: FileRef | null;
  /** Set when a candidate query hit its row cap (more matching production rows exist than were read). */
  candidatesTruncated?: { cap: number; buckets: Array<'failing' | 'passing'> };
  /**
   * How the rows were drawn: a seeded random sample of the matching production rows the dataset did not hold yet, from
   * a window widened from the evidence window when too few were left. Absent in histories recorded before it existed.
   */
  sample?: { windowDays: number; widenedFrom?: number; alreadyCurated: number; seed: string };
}

export interface CurateResult extends CurationCounts {
  dataset: string;
  datasetId: string | null;
  created: boolean;
  upserted: number;
  /**
   * Cohort keys the curated rows cover (for the coverage comparison). In the curation plan file only (not returned to
   * the workflow, which never reads it) since upsertCuration results went to history without it.
   */
  cohorts?: string[];
  /** A few rows (empty since the write gate shows the sample from prepareCuration). */
  sampleRows: { id: string; input: string; expected: string | null; bucket: string }[];
}

/** One curated row as the write gate shows it (production text: stripped of control characters and cut). */
export interface CuratedSampleRow {
  /** The dataset record id. */
  id: string;
  /** The production trace the row came from. */
  traceId: string;
  bucket: 'failing' | 'passing';
  split: 'train' | 'validation';
  input: string;
  /** The label (expected), or null when the row waits for one. */
  expected: string | null;
  /** Where the label came from: `labeler`, `production_output_passing` or `needs_label`. */
  labelSource: string;
}

/**
 * What curation will write, ready before the write gate opens (prepareCuration): nothing is in Braintrust yet.
 * The rows are in `rowsFile`, the plan the gate shows in `planFile`; upsertCuration writes exactly those.
 */
export interface CurationPlan extends CurationCounts {
  /** The target dataset, and its id when it exists already (null: the upsert creates it). */
  dataset: string;
  existingDatasetId: string | null;
  rows: number;
  /** A few rows (failing first) with their labels. */
  sampleRows: CuratedSampleRow[];
  planFile: FileRef;
}

export interface ChangeAgentResult {
  exitCode: number;
  files: string[];
  insertions: number;
  deletions: number;
  stdoutTail: string;
  briefFile: FileRef;
  durationMs: number;
  /** Scorer files the change touched and that were pushed with `bt functions push` (inside this activity: older runs). */
  pushedScorers: string[];
  /**
   * Changed files that define pushable scorers, left for the separate pushScorers activity to push. Set when the
   * activity was asked not to push (`scorerPush: 'separate'`); absent in histories recorded before that.
   */
  scorerFiles?: string[];
  /**
   * The change as a unified diff against the tree before it: the whole diff in `file` (the change's phase directory),
   * a bounded excerpt for the gates and status. Absent when nothing changed, and in histories recorded before it existed.
   */
  diff?: ChangeDiffRef;
}

/** A change's unified diff: the file in the run directory and the excerpt shown to people. */
export interface ChangeDiffRef {
  file: FileRef;
  /** At most a few thousand characters; whole files first. Paths and code from the agent's repository. */
  excerpt: string;
  truncated: boolean;
}

/** What the pushScorers activity pushed (`bt functions push --if-exists replace`, so a retry is harmless). */
export interface PushScorersResult {
  pushed: string[];
  /** Files that were gone by the time of the push (deleted by the change): nothing to push for them. */
  missing: string[];
}

export type { LabelCoverage, PrepareScorersResult, ScorerLocation } from './logic/measurement.js';

/** What reverting a rejected change did (the revertChange activity). */
export interface RevertResult {
  changeId: string;
  /** The change agent kept a backup of what the change replaced (a change a person applied has none). */
  backedUp: boolean;
  restored: string[];
  unchanged: string[];
  overwritten: string[];
  /** Scorer files pushed again with `bt functions push` after they were restored. */
  repushedScorers: string[];
}

export interface HandoffPaths {
  summaryPath: string;
  narrativePath: string;
  /** The outcome the summary settled on (the builder resolves it). */
  outcome: 'healthy' | 'improved' | 'needs_work' | 'blocked' | 'no_convergence';
}

export interface BriefRef {
  path: string;
  body: string;
}
