/** Shared set-up for tests that drive the real `bt` through BtClient: a client for a local server, and failures. */
import { join } from 'node:path';
import { expect } from 'vitest';
import { BtClient } from '../../src/bt/client.js';
import { BtError } from '../../src/bt/errors.js';
import type { LocalServerHandle } from '../../src/local-server/index.js';

/** A BtClient pointed at a local server, with bt's HOME/XDG config under `dirs.home` and its cwd at `dirs.cwd`. */
export function localBtClient(server: LocalServerHandle, dirs: { home: string; cwd: string }): BtClient {
  return new BtClient({
    env: { ...server.btEnv(), HOME: dirs.home, XDG_CONFIG_HOME: join(dirs.home, '.config'), PATH: process.env.PATH ?? '' },
    cwd: dirs.cwd,
  });
}

/** The BtError a call failed with (fails the test when it succeeds or fails otherwise). */
export async function btFailure(p: Promise<unknown>): Promise<BtError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BtError);
  return err as BtError;
}
