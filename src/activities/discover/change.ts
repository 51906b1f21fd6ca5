/**
 * Change-correlation plane: the primary score by day and by each version-like metadata key (model, release,
 * deploy), so a drop that starts with a day or a version shows.
 */
import { fieldPath } from '../../bt/sql.js';
import type { ChangeCorrelation } from '../../workflows/logic/evidence.js';
import { each, n, nOrNull, str, type PlaneContext } from './context.js';

/** Metadata keys whose name marks a version, grouped on (at most MAX_VERSION_KEYS of them). */
export const VERSION_KEY = /version|model|release|deploy/i;
export const MAX_VERSION_KEYS = 3;

export async function changePlane(pc: PlaneContext): Promise<ChangeCorrelation[]> {
  const { q, roots, primary } = pc;
  if (!primary) return [];
  const sc = fieldPath('scores', primary);
  const dayQuery = `SELECT DATE_TRUNC('day', created) AS day, COUNT(*) AS n, AVG(${sc}) AS mean FROM ${roots} GROUP BY DATE_TRUNC('day', created) ORDER BY day LIMIT 400`;
  const keys = pc.ctx.metadataKeys.filter((k) => VERSION_KEY.test(k)).slice(0, MAX_VERSION_KEYS);
  const [byDay, byVersion] = await Promise.all([
    q.run(dayQuery),
    each(keys, async (key): Promise<ChangeCorrelation> => {
      const path = fieldPath('metadata', key);
      const vq = `SELECT ${path} AS version, COUNT(*) AS n, AVG(${sc}) AS mean FROM ${roots} GROUP BY ${path} ORDER BY n DESC LIMIT 20`;
      const rows = await q.run(vq);
      return { by: 'version', key: `metadata.${key}`, score: primary, groups: rows.map((r) => ({ group: str(r.version), n: n(r.n), mean: nOrNull(r.mean) })), query: vq };
    }),
  ]);
  return [
    { by: 'day', key: 'created', score: primary, groups: byDay.map((r) => ({ group: str(r.day).slice(0, 10), n: n(r.n), mean: nOrNull(r.mean) })), query: dayQuery },
    ...byVersion,
  ];
}
