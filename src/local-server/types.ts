/** Public types of the local Braintrust-compatible server. */
import type { FaultSwitch } from './faults.js';

export interface LocalServerOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** DuckDB file (created if missing). Usually under `.flywheel/`. */
  dataFile: string;
  /** API key clients must send as `Authorization: Bearer <key>`; random when omitted. */
  apiKey?: string;
  /** Organization name reported by the login route (default `local`). */
  orgName?: string;
  /** The clock behind SQL `NOW()` / `CURRENT_DATE` (default FLYWHEEL_FAKE_NOW or the real clock, see src/clock.ts). */
  now?: () => Date;
}

export interface SeedOptions {
  /** Project name to use when the sync data only carries project ids. */
  projectName?: string;
}

export interface SeedResult {
  projects: number;
  rows: number;
}

export interface LocalServerHandle {
  appUrl: string;
  apiUrl: string;
  apiKey: string;
  orgName: string;
  dataFile: string;
  port: number;
  /** BRAINTRUST_API_KEY, BRAINTRUST_APP_URL, BRAINTRUST_API_URL, BRAINTRUST_ORG_NAME. */
  btEnv(): Record<string, string>;
  /**
   * Fault injection for tests, in-process only (no HTTP route): `faults.set({ status: 429, routes: '/btql' })`,
   * `faults.clear()`. Off by default; see faults.ts.
   */
  faults: FaultSwitch;
  /** Loads a `bt sync pull` output directory (root, object dir or spec dir). Idempotent. */
  seedFromSyncDir(dir: string, options?: SeedOptions): Promise<SeedResult>;
  close(): Promise<void>;
}
