/** Workflow barrel: the worker's workflowsPath points here. */
export { flywheelWorkflow } from './flywheel.js';
export { fleetWorkflow } from './fleet.js';
