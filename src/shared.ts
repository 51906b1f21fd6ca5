/** Constants shared by the worker, the starter CLI and the tests. */
export const TASK_QUEUE = 'bt-flywheel';
export const DEFAULT_NAMESPACE = 'default';
export const WORKFLOW_TYPE = 'flywheelWorkflow';

/** Custom search attributes registered on the dev server at start (and expected on remote clusters). */
export const SEARCH_ATTRIBUTES = {
  project: { name: 'FlywheelProject', type: 'KEYWORD' },
  goal: { name: 'FlywheelGoal', type: 'TEXT' },
  mode: { name: 'FlywheelMode', type: 'KEYWORD' },
  phase: { name: 'FlywheelPhase', type: 'KEYWORD' },
  outcome: { name: 'FlywheelOutcome', type: 'KEYWORD' },
} as const;

/** Failure type of a run that gave up (an activity's retries spent): its details hold the FlywheelResult. */
export const BLOCKED_FAILURE_TYPE = 'FlywheelBlocked';
