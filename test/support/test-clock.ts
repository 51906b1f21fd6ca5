/** The instant the test suite runs at (see fixed-clock.ts). Mid-afternoon UTC, on no boundary of note. */
export const TEST_NOW = new Date('2026-03-18T14:27:05Z');
