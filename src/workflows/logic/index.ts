/** Pure decision core: evidence types, Diagnose, Verify & Decide. Safe to import from workflow code. */
export * from './evidence.js';
export * from './scorer-health.js';
export * from './diagnose.js';
export * from './decide.js';
export * from './attempts.js';
