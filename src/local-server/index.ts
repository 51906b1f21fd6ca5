/**
 * The embedded Braintrust-compatible server (DESIGN §2): a DuckDB-backed HTTP API on 127.0.0.1 that
 * the real `bt` binary and the braintrust JS SDK talk to through BRAINTRUST_APP_URL/BRAINTRUST_API_URL.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { clockFromEnv } from '../clock.js';
import { Faults } from './faults.js';
import { seedFromSyncDir } from './seed.js';
import { LocalApi } from './server.js';
import { Store } from './store.js';
import type { LocalServerHandle, LocalServerOptions, SeedOptions, SeedResult } from './types.js';

export type { LocalServerHandle, LocalServerOptions, SeedOptions, SeedResult } from './types.js';
export type { FaultSpec, FaultStatus, FaultSwitch, FaultHit } from './faults.js';

export const DEFAULT_ORG_NAME = 'local';

/** A fresh random API key (`bt-local-…`). */
export function generateApiKey(): string {
  return `bt-local-${randomBytes(24).toString('base64url')}`;
}

/** Environment that points `bt` (and the SDK it runs for `bt eval`) at a server. */
export function btEnvFor(info: { appUrl: string; apiUrl: string; apiKey: string; orgName: string }): Record<string, string> {
  return {
    BRAINTRUST_API_KEY: info.apiKey,
    BRAINTRUST_APP_URL: info.appUrl,
    BRAINTRUST_API_URL: info.apiUrl,
    BRAINTRUST_ORG_NAME: info.orgName,
  };
}

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServerHandle> {
  const dataFile = options.dataFile === ':memory:' ? ':memory:' : resolve(options.dataFile);
  const apiKey = options.apiKey ?? generateApiKey();
  const orgName = options.orgName ?? DEFAULT_ORG_NAME;
  const store = await Store.open(dataFile);
  const faults = new Faults();
  const api = new LocalApi({ store, apiKey, orgName, now: options.now ?? clockFromEnv(process.env), faults });
  let port: number;
  try {
    port = await api.listen(options.port ?? 0);
  } catch (e) {
    await store.close();
    throw e;
  }
  const url = api.baseUrl;
  let closed: Promise<void> | undefined;
  const handle: LocalServerHandle = {
    appUrl: url,
    apiUrl: url,
    apiKey,
    orgName,
    dataFile,
    port,
    faults,
    btEnv: () => btEnvFor({ appUrl: url, apiUrl: url, apiKey, orgName }),
    seedFromSyncDir: (dir: string, seedOptions?: SeedOptions): Promise<SeedResult> => seedFromSyncDir(store, dir, seedOptions ?? {}),
    close: () => {
      closed ??= (async () => {
        await api.close();
        await store.close();
      })();
      return closed;
    },
  };
  return handle;
}
