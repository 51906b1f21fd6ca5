/**
 * Discover lives in src/activities/discover/ (a planner over one module per evidence plane); this module keeps
 * the import path the activities, Curate and the tests use.
 */
export * from './discover/index.js';
