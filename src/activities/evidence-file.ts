/**
 * Discover's evidence file, read back by the activities that need its query texts (the handoff, a brief's routes):
 * the workflow holds the evidence with numbered queries (src/workflows/logic/query-table.ts), the file holds it whole.
 */
import type { DiscoverEvidence } from '../workflows/logic/evidence.js';
import { expandQueries, numberQueries } from '../workflows/logic/query-table.js';
import { readChecked } from './files.js';

export class EvidenceFileError extends Error {
  constructor(readonly path: string, readonly why: string) {
    super(`the evidence ${path} ${why}`);
    this.name = 'EvidenceFileError';
  }
}

/** The evidence file, checked by sha256. */
export async function readEvidenceFile(ref: { path: string; sha256: string }): Promise<DiscoverEvidence> {
  const got = await readChecked(ref);
  if ('why' in got) throw new EvidenceFileError(ref.path, got.why === 'changed' ? 'changed after Discover wrote it' : `cannot be read (${got.detail})`);
  return JSON.parse(got.text) as DiscoverEvidence;
}

/** The whole evidence of a discover result (its file, read back), with the result's `file` reference. */
export async function wholeEvidence(result: DiscoverEvidence): Promise<DiscoverEvidence> {
  if (!result.queriesByNumber) return result;
  if (!result.file) throw new EvidenceFileError('(none)', 'is not referenced by the discover result');
  return { ...(await readEvidenceFile(result.file)), file: result.file };
}

/** The evidence as the workflow holds it (numbered queries) and the query texts by number. */
export function numbered(evidence: DiscoverEvidence): { evidence: DiscoverEvidence; table: string[] } {
  const { numbered: n, table } = numberQueries(evidence);
  return { evidence: n, table };
}

/** `findings` (of a diagnosis of numbered evidence) with their query texts back. Depth 2: diagnosis.findings[i]. */
export function withQueryTexts<T>(value: T, table: readonly string[]): T {
  return expandQueries(value, table, 2);
}
