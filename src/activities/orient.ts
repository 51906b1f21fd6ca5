/**
 * Orient: resolve the project (never ask for an id), the baseline experiment, the schema (score, facet and
 * metadata columns with the 1 → 7 → 30 day widening), the org for links, and where the eval files are.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { BtClient } from '../bt/client.js';
import { isQuotable, projectLogs, since } from '../bt/sql.js';
import type { FlywheelConfig } from '../../schemas/flywheel-input.js';
import type { OrientContext, ProjectSource } from '../workflows/types.js';
import { runDir as runDirOf } from './files.js';
import { copyTreeOnce } from './workspace.js';

const INSTRUCTION_FILES = ['AGENTS.md', 'CLAUDE.md', '.cursor/rules', '.github/copilot-instructions.md'];
const SCHEMA_WINDOWS = [1, 7, 30];
/** Metadata keys that identify a request rather than a cohort. */
const ID_LIKE = /(^|_|\b)(id|ids|uuid|trace|span|session|user|email|request|ts|timestamp|created)$/i;

export interface OrientParams {
  config: FlywheelConfig;
  workflowId: string;
  /** The workflow run: each new run of a workflow id gets its own run directory (and workspace copy). */
  runId?: string;
  appUrl: string;
  /** BRAINTRUST_ORG_NAME from the worker's environment, when `bt status` does not know the org. */
  orgFallback: string | null;
}

export interface Instructions {
  files: string[];
  project?: string;
  primaryScore?: string;
  /** Pass/fail scorers by design (a 0/1 split is expected for them). */
  binaryScores: string[];
  evalFiles: string[];
}

/** Reads project instruction files for the project name, primary score and eval files. */
export async function readInstructions(dir: string): Promise<Instructions> {
  const out: Instructions = { files: [], evalFiles: [], binaryScores: [] };
  for (const name of INSTRUCTION_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue; // a directory (.cursor/rules) or unreadable: skip
    }
    out.files.push(name);
    out.project ??= /braintrust project(?: name)?\s*[:=]\s*`?([^`\n]+?)`?\s*$/im.exec(text)?.[1]?.trim();
    out.primaryScore ??= /primary score\s*[:=]\s*`?([^`\n]+?)`?\s*$/im.exec(text)?.[1]?.trim();
    const binary = /binary scores?[^:\n]*:\s*(.+)$/im.exec(text)?.[1];
    if (binary) for (const b of binary.split(/[,\s]+/).map((x) => x.replace(/[`'".]/g, '').trim()).filter(Boolean)) out.binaryScores.push(b);
    for (const m of text.matchAll(/`?((?:[\w.-]+\/)*eval_[\w.-]+\.(?:ts|py))`?/g)) {
      if (m[1] && !out.evalFiles.includes(m[1])) out.evalFiles.push(m[1]);
    }
  }
  return out;
}

/** `.bt/config.json` in the agent directory (bt setup writes it). */
async function readBtConfig(dir: string): Promise<{ project?: string; project_id?: string } | null> {
  const path = join(dir, '.bt', 'config.json');
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as { project?: string; project_id?: string };
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`${path} is not valid JSON (${(err as Error).message}); fix or delete it`, 'InvalidConfig');
  }
}

/** eval_*.ts / eval_*.py outside node_modules/.venv, then an evals/ folder. */
export async function findEvalFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(d: string, depth: number): Promise<void> {
    if (depth > 6) return;
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!['node_modules', '.venv', 'venv', '.git', 'dist', '.flywheel'].includes(e.name)) await walk(join(d, e.name), depth + 1);
      } else if (/^eval_.*\.(ts|py)$/.test(e.name)) {
        found.push(relative(dir, join(d, e.name)));
      }
    }
  }
  await walk(dir, 0);
  if (!found.length && existsSync(join(dir, 'evals'))) found.push('evals');
  return found.sort();
}

/** Sorted keys of an object column across rows; `scalarOnly` keeps cohort-like keys (short scalars, no ids). */
export function keysOf(rows: Record<string, unknown>[], column: string, scalarOnly = false): string[] {
  const keys = new Set<string>();
  for (const r of rows) {
    const v = r[column];
    if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
    for (const [k, val] of Object.entries(v)) {
      if (scalarOnly && (typeof val === 'object' || (typeof val === 'string' && val.length > 40) || ID_LIKE.test(k))) continue;
      keys.add(k);
    }
  }
  return [...keys].sort();
}

/** Experiment metadata key the flywheel sets on the experiments it runs (see FLYWHEEL_RUN_MODE in activities/index.ts). */
export const FLYWHEEL_EXPERIMENT_METADATA_KEY = 'flywheel_run';
/** Names from `experimentName` in workflows/plan.ts: flywheel-<workflow>-i<iteration>-<mode>-<split>. */
const FLYWHEEL_EXPERIMENT_NAME = /^flywheel-.+-i\d+-(baseline|before|smoke|full|candidate|rejected)-[\w.-]+$/;

/** An experiment the flywheel ran (tagged in its metadata or tags, or named by the flywheel): never a baseline by default. */
export function isFlywheelExperiment(e: { name: string; metadata?: Record<string, unknown> | null; tags?: string[] | null }): boolean {
  const meta = e.metadata?.[FLYWHEEL_EXPERIMENT_METADATA_KEY];
  return (meta !== undefined && meta !== null) || (e.tags ?? []).some((t) => t === 'flywheel' || t.startsWith('flywheel:')) || FLYWHEEL_EXPERIMENT_NAME.test(e.name);
}

/** Tag values that split the sampled roots: on some but not all of them, short and not id-like. */
export function tagValuesOf(rows: Record<string, unknown>[]): string[] {
  const counts = new Map<string, number>();
  let tagged = 0;
  for (const r of rows) {
    if (!Array.isArray(r.tags)) continue;
    tagged++;
    for (const t of new Set(r.tags)) if (typeof t === 'string' && t.length <= 40) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return [...counts.entries()].filter(([, k]) => k < tagged).map(([t]) => t).sort();
}

/** Handles a promise's rejection now (it is awaited later, in the order the reads were made one at a time). */
function settled<T>(x: Promise<T>): Promise<T> {
  x.catch(() => undefined);
  return x;
}

export async function orient(bt: BtClient, p: OrientParams): Promise<OrientContext> {
  const { config } = p;
  const notes: string[] = [];
  if (!existsSync(config.agentDir)) {
    throw ApplicationFailure.nonRetryable(`agent directory ${config.agentDir} does not exist; pass --agent-dir with the agent's repository`, 'InvalidConfig');
  }
  // The reads that do not depend on each other start together (`bt status` does not need the project); each is
  // awaited where the sequential code read it, so a failure is still reported in that order.
  const projectsP = settled(bt.projectsList());
  const statusP = settled(bt.status());
  const instructions = await readInstructions(config.agentDir);

  // Project, in the seed's order: invocation, .bt/config.json, instruction files, bt projects list.
  const projects = await projectsP;
  const btConfig = await readBtConfig(config.agentDir);
  let wanted: { name?: string; id?: string; source: ProjectSource; detail: string } | null = null;
  if (config.project) wanted = { name: config.project, source: 'input', detail: 'given in the invocation' };
  else if (btConfig?.project || btConfig?.project_id)
    wanted = { name: btConfig.project, id: btConfig.project_id, source: 'bt-config', detail: '.bt/config.json' };
  else if (instructions.project) wanted = { name: instructions.project, source: 'instructions', detail: instructions.files.join(', ') };
  let project: OrientContext['project'];
  if (wanted) {
    const hit = projects.find((x) => (wanted!.id && x.id === wanted!.id) || x.name === wanted!.name || x.id === wanted!.name);
    if (!hit) {
      const names = projects.map((x) => x.name).slice(0, 10).join(', ') || '(none)';
      throw ApplicationFailure.nonRetryable(
        `Braintrust project '${wanted.name ?? wanted.id}' (from ${wanted.detail}) was not found; projects visible to this key: ${names}. Pass --project with one of them.`,
        'ProjectNotFound',
      );
    }
    project = { id: hit.id, name: hit.name, source: wanted.source, sourceDetail: wanted.detail };
  } else if (projects.length === 1) {
    project = { id: projects[0]!.id, name: projects[0]!.name, source: 'projects-list', sourceDetail: 'the only project visible to this key' };
  } else {
    throw ApplicationFailure.nonRetryable(
      `cannot tell which Braintrust project to use: no --project, no .bt/config.json and no "Braintrust project:" line in AGENTS.md/CLAUDE.md, and ${projects.length} projects are visible (${projects.map((x) => x.name).slice(0, 10).join(', ')}). Run \`bt setup\` in the agent directory or pass --project.`,
      'ProjectNotFound',
    );
  }
  if (!btConfig) notes.push('No .bt/config.json in the agent directory: run `bt setup` there so every bt command targets the right project.');

  // The project's experiments and its newest root spans (schema discovery, below), while the rest is decided.
  const experimentsP = settled(bt.experimentsList(project.name));
  /** A sample of root spans of the last `days` days (schema discovery; the first window is read up front). */
  const schemaQuery = (days: number) => `SELECT * FROM ${projectLogs(project.id)} WHERE is_root = true AND ${since(days)} LIMIT 50`;
  const schemaP = settled(bt.sql(schemaQuery(SCHEMA_WINDOWS[0]!)));

  // Org for links.
  const status = await statusP;
  const org = status.org ?? p.orgFallback ?? 'local';
  if (!status.org && !p.orgFallback) notes.push('The Braintrust org name is unknown (bt status has none): set BRAINTRUST_ORG_NAME so the links in the handoff point at your org.');

  // Baseline: the invocation / FLYWHEEL_BASELINE_EXPERIMENT, else the newest experiment.
  let baseline: OrientContext['baseline'] = null;
  const experiments = await experimentsP;
  if (config.baselineExperiment) {
    const hit = experiments.find((e) => e.id === config.baselineExperiment || e.name === config.baselineExperiment);
    if (!hit) {
      throw ApplicationFailure.nonRetryable(
        `baseline experiment '${config.baselineExperiment}' not found in project ${project.name}; pass an experiment id or name from \`bt experiments list -p ${project.name}\``,
        'BaselineNotFound',
      );
    }
    baseline = { id: hit.id, name: hit.name, chosenBy: 'env' };
    notes.push(`Baseline experiment ${hit.name}: given in the invocation / FLYWHEEL_BASELINE_EXPERIMENT.`);
  } else {
    // The newest experiment the project made itself: the flywheel's own runs (smoke, before, candidates, rejected
    // changes) say nothing about the agent as the team ships it.
    const own = experiments.filter(isFlywheelExperiment);
    const candidates = experiments.filter((e) => !isFlywheelExperiment(e));
    if (candidates.length) {
      const newest = [...candidates].sort((a, b) => String(b.created ?? '').localeCompare(String(a.created ?? '')))[0]!;
      baseline = { id: newest.id, name: newest.name, chosenBy: 'latest' };
      notes.push(
        `Baseline experiment ${newest.name}: the newest experiment of the project${own.length ? `, skipping ${own.length} experiment(s) the flywheel created (${own.slice(0, 3).map((e) => e.name).join(', ')}${own.length > 3 ? ', …' : ''})` : ''}.`,
      );
    } else {
      notes.push(
        own.length
          ? `The project has only experiments the flywheel created (${own.length}); none is a baseline: the flywheel runs a baseline eval of the unchanged agent first.`
          : 'The project has no experiments yet: the flywheel runs a baseline eval of the unchanged agent first.',
      );
    }
  }

  // Schema discovery with progressive widening.
  let sample: Record<string, unknown>[] = [];
  let schemaWindowDays: number | null = null;
  for (const [i, days] of SCHEMA_WINDOWS.entries()) {
    const res = await (i === 0 ? schemaP : bt.sql(schemaQuery(days)));
    if (!res.data.length) continue;
    sample.push(...(res.data as Record<string, unknown>[]));
    schemaWindowDays ??= days;
    break;
  }
  if (sample.length && !keysOf(sample, 'scores').length) {
    // The newest root spans carry no scores (a logging gap): look further back for the score column names.
    const scored = await bt.sql(
      `SELECT scores FROM ${projectLogs(project.id)} WHERE is_root = true AND scores IS NOT NULL AND ${since(SCHEMA_WINDOWS[SCHEMA_WINDOWS.length - 1]!)} LIMIT 50`,
    );
    sample.push(...(scored.data as Record<string, unknown>[]));
    notes.push(`The newest root spans carry no scores; score columns were taken from older scored spans (${keysOf(sample, 'scores').join(', ') || 'none found'}).`);
  }
  if (!sample.length) notes.push('No root spans in the last 30 days: discovery falls back to generic queries.');
  // Names with a backslash or NUL cannot be quoted unambiguously in Braintrust SQL (src/bt/sql.ts): left out, with a note.
  const unquotable: string[] = [];
  const quotable = (col: string) => (k: string) => (isQuotable(k) ? true : (unquotable.push(`${col}.${JSON.stringify(k)}`), false));
  const scoreColumns = keysOf(sample, 'scores').filter(quotable('scores'));
  const facetColumns = keysOf(sample, 'facets', true).filter(quotable('facets'));
  const metadataKeys = keysOf(sample, 'metadata', true).filter(quotable('metadata'));
  // Topics: cohorts come from the topic labels in classifications.<Facet>, never from the free-text facets.
  const classified = keysOf(sample, 'classifications');
  const topicFacets = classified.length ? [...new Set([...classified, ...facetColumns])].filter(quotable('classifications')).sort() : [];
  if (!topicFacets.length) {
    notes.push(
      `No Topics automation data (no classifications on the sampled root spans${facetColumns.length ? `; facets ${facetColumns.join(', ')} hold free text only` : ''}): cohorts come from metadata and tags. Enable Topics in Braintrust for topic cohorts.`,
    );
  }
  const tagValues = tagValuesOf(sample).filter(quotable('tags'));
  if (unquotable.length) {
    notes.push(`Left out of the analysis: ${unquotable.join(', ')} (a backslash or NUL in a field name has no documented quoting in Braintrust SQL).`);
  }
  const primaryScore =
    config.targetScore ??
    (instructions.primaryScore && scoreColumns.includes(instructions.primaryScore) ? instructions.primaryScore : undefined) ??
    scoreColumns.find((s) => config.goal.toLowerCase().includes(s.toLowerCase())) ??
    scoreColumns[0] ??
    null;

  // The working tree: the repository itself, or a copy in the run directory.
  const runDir = p.runId ? join(runDirOf(config.runsDir, p.workflowId), p.runId) : runDirOf(config.runsDir, p.workflowId);
  let agentDir = config.agentDir;
  if (config.workOnCopy) {
    agentDir = join(runDir, 'workspace');
    await copyTreeOnce(config.agentDir, agentDir);
  }

  let evalFiles = config.evalFiles;
  let evalFilesSource = 'given in the invocation';
  if (!evalFiles.length && instructions.evalFiles.length) {
    evalFiles = instructions.evalFiles.filter((f) => existsSync(join(agentDir, f)));
    evalFilesSource = instructions.files.join(', ');
  }
  if (!evalFiles.length) {
    evalFiles = await findEvalFiles(agentDir);
    evalFilesSource = 'found eval_*.ts / eval_*.py in the agent directory';
  }
  if (!evalFiles.length) notes.push('No eval files found (eval_*.ts, eval_*.py, evals/): Verify cannot run evals.');

  return {
    workflowId: p.workflowId,
    runDir,
    project,
    org,
    appUrl: p.appUrl,
    baseline,
    scoreColumns,
    facetColumns,
    topicFacets,
    tagValues,
    metadataKeys,
    schemaWindowDays,
    primaryScore,
    binaryScores: instructions.binaryScores.filter((b) => scoreColumns.includes(b)),
    agentDir,
    evalFiles,
    evalFilesSource,
    datasetName: config.datasetName ?? `flywheel-${project.name}`,
    instructionFiles: instructions.files,
    notes,
  };
}
