/**
 * The flywheel over many projects: one child `flywheelWorkflow` per project, at most `concurrency` at a time, each
 * started after a random delay of up to `jitter` (so a fleet does not hit Braintrust in one burst), then one fleet
 * summary. A child that gives up (a Failed execution) counts with its blocked result; one that fails otherwise is
 * reported with its error. Deterministic: the workflow's Math.random is seeded by Temporal.
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, defineQuery, proxyActivities, setHandler, sleep, startChild, workflowInfo } from '@temporalio/workflow';
import { durationMs, workflowInputSchema, type FlywheelInput } from '../../schemas/flywheel-input.js';
import type { FleetActivities, FleetRow } from '../activities/fleet.js';
import { BLOCKED_FAILURE_TYPE } from '../shared.js';
import { FlywheelGoalKey, FlywheelModeKey, FlywheelProjectKey } from './definitions.js';
import type { FlywheelResult } from './flywheel.js';

export interface FleetInput {
  /** The projects, in order; at most 200. */
  projects: string[];
  /** Options every project's run shares (its `project` and `outDir` are set per project). */
  base: Omit<FlywheelInput, 'project'>;
  /** Runs at a time (1–20). */
  concurrency: number;
  /** Each run starts after a random delay of up to this (a duration such as 2m). */
  jitter: string;
  /** Where the fleet summary goes; each project's handoff goes to `<outDir>/<project>/`. */
  outDir: string;
}

export interface FleetStatus {
  total: number;
  running: string[];
  done: FleetRow[];
}

export const fleetStatusQuery = defineQuery<FleetStatus>('fleetStatus');

/** A project name as a path segment and workflow-id part (the name itself stays in the summary). */
export function projectSlug(project: string): string {
  return project.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || 'project';
}

export async function fleetWorkflow(input: FleetInput): Promise<{ summaryPath: string; rows: FleetRow[] }> {
  if (!Array.isArray(input?.projects) || !input.projects.length || input.projects.length > 200) throw ApplicationFailure.nonRetryable('a fleet needs 1 to 200 projects', 'InvalidInput');
  if (new Set(input.projects).size !== input.projects.length) throw ApplicationFailure.nonRetryable('a fleet lists each project once', 'InvalidInput');
  const concurrency = Math.max(1, Math.min(20, Math.floor(input.concurrency || 1)));
  const jitterMs = durationMs(input.jitter || '0s');
  const info = workflowInfo();
  // Which Braintrust the projects live on (the fleet's own memo, set by `flywheel fleet`): each child carries it, so
  // the one-run-per-project guard of `flywheel run` sees a fleet's runs like its own.
  const braintrust = typeof info.memo?.braintrust === 'string' ? info.memo.braintrust : null;
  const acts = proxyActivities<FleetActivities>({
    ...(input.base.hostQueues ? { taskQueue: input.base.hostQueues.host } : {}),
    startToCloseTimeout: '5 minutes',
    retry: { initialInterval: '1s', maximumAttempts: 10 },
  });

  const status: FleetStatus = { total: input.projects.length, running: [], done: [] };
  setHandler(fleetStatusQuery, () => status);

  const runOne = async (project: string): Promise<FleetRow> => {
    if (jitterMs > 0) await sleep(Math.floor(Math.random() * jitterMs));
    const slug = projectSlug(project);
    const workflowId = `${info.workflowId}-${slug}`;
    const childInput = { ...input.base, project, outDir: `${input.outDir.replace(/\/+$/, '')}/${slug}`, handoffPerRun: false };
    // Validated here like the child validates it, so a bad base fails the fleet once instead of every child.
    const parsed = workflowInputSchema.safeParse(childInput);
    if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid run input for ${project}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'InvalidInput');
    status.running.push(project);
    try {
      const child = await startChild('flywheelWorkflow', {
        workflowId,
        args: [childInput],
        ...(braintrust ? { memo: { braintrust } } : {}),
        // Set at start, like `flywheel run` does, so `list --project` and the guard see the child before its first task.
        typedSearchAttributes: [
          { key: FlywheelProjectKey, value: project },
          { key: FlywheelGoalKey, value: parsed.data.goal },
          { key: FlywheelModeKey, value: parsed.data.mode },
        ],
      });
      const result = (await child.result()) as FlywheelResult;
      return { project, workflowId, outcome: result.outcome, summaryPath: result.summaryPath, narrativePath: result.narrativePath, iterations: result.iterations, error: result.error };
    } catch (err) {
      const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
      if (cause instanceof ApplicationFailure && cause.type === BLOCKED_FAILURE_TYPE && cause.details?.[0]) {
        const r = cause.details[0] as FlywheelResult;
        return { project, workflowId, outcome: r.outcome, summaryPath: r.summaryPath, narrativePath: r.narrativePath, iterations: r.iterations, error: r.error };
      }
      if (err instanceof ActivityFailure || err instanceof ChildWorkflowFailure || err instanceof ApplicationFailure) {
        return { project, workflowId, outcome: 'blocked', summaryPath: null, narrativePath: null, iterations: 0, error: (cause as Error)?.message ?? String(cause) };
      }
      throw err;
    } finally {
      status.running = status.running.filter((p) => p !== project);
    }
  };

  // A bounded pool: `concurrency` lanes, each taking the next project when its run ends.
  const queue = [...input.projects];
  const lane = async (): Promise<void> => {
    for (let project = queue.shift(); project !== undefined; project = queue.shift()) status.done.push(await runOne(project));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, lane));

  const rows = input.projects.map((p) => status.done.find((r) => r.project === p)!);
  const { summaryPath } = await acts.writeFleetSummary({ fleetId: info.workflowId, outDir: input.outDir, rows });
  return { summaryPath, rows };
}
