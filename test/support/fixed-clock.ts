// Per test process: every test runs against one fixed instant, whatever the calendar says (src/clock.ts).
// The example generator, Discover's windows and the local server's NOW() (in-process, and in the CLI and
// daemon processes the tests start, which inherit this environment) all read FLYWHEEL_FAKE_NOW.
// Set FLYWHEEL_FAKE_NOW yourself to run the suite at another instant.
import { FAKE_NOW_ENV } from '../../src/clock.js';
import { TEST_NOW } from './test-clock.js';

process.env[FAKE_NOW_ENV] ||= TEST_NOW.toISOString();
