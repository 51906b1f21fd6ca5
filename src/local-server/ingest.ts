/** `/logs3` ingestion: upserts by (object, row id), honouring `_is_merge`, `_merge_paths` and `_object_delete`. */
import { sqlStr } from './btql/translate.js';
import { type ObjectKey, type Rec, type Store, deepMerge } from './store.js';

export class IngestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

interface Op {
  row: Rec;
  merge: boolean;
  del: boolean;
  mergePaths: string[][];
}

function stripControl(row: Rec): Rec {
  const out: Rec = {};
  for (const [k, v] of Object.entries(row)) {
    if (k.startsWith('_')) continue;
    if (v === undefined) continue;
    out[k] = v;
  }
  return out;
}

/** Writes one batch atomically. Returns how many rows were written (inserted, replaced, merged or deleted). */
export async function ingestRows(store: Store, rows: Rec[]): Promise<{ written: number; skipped: number }> {
  const groups = new Map<string, { key: ObjectKey; projectId: string; ops: Map<string, Op[]> }>();
  const projectOf = new Map<string, string>();
  let skipped = 0;
  for (const raw of rows) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new IngestError('each row must be an object');
    let key: ObjectKey;
    if (typeof raw.experiment_id === 'string' && raw.experiment_id) key = { type: 'experiment', id: raw.experiment_id };
    else if (typeof raw.dataset_id === 'string' && raw.dataset_id) key = { type: 'dataset', id: raw.dataset_id };
    else if (typeof raw.project_id === 'string' && raw.project_id && (raw.log_id === 'g' || raw.log_id === undefined)) {
      key = { type: 'project_logs', id: raw.project_id };
    } else {
      // Prompt sessions, function logs and other objects are not stored locally.
      skipped++;
      continue;
    }
    if (raw.comment !== undefined && raw.origin !== undefined && raw.input === undefined) {
      skipped++;
      continue;
    }
    const gk = `${key.type}\u0000${key.id}`;
    let g = groups.get(gk);
    if (!g) {
      let projectId = projectOf.get(gk);
      if (projectId === undefined) {
        if (key.type === 'experiment') {
          const e = await store.getExperiment(key.id);
          if (!e) throw new IngestError(`experiment ${key.id} not found`, 404);
          projectId = e.project_id;
        } else if (key.type === 'dataset') {
          const d = await store.getDataset(key.id);
          if (!d) throw new IngestError(`dataset ${key.id} not found`, 404);
          projectId = d.project_id;
        } else {
          const p = await store.getProject(key.id);
          if (!p || p.id !== key.id) throw new IngestError(`project ${key.id} not found`, 404);
          projectId = p.id;
        }
        projectOf.set(gk, projectId);
      }
      g = { key, projectId, ops: new Map() };
      groups.set(gk, g);
    }
    const id = typeof raw.id === 'string' && raw.id ? raw.id : typeof raw.span_id === 'string' && raw.span_id ? raw.span_id : undefined;
    if (!id) throw new IngestError('row is missing an id');
    const mergePaths = Array.isArray(raw._merge_paths) ? (raw._merge_paths as unknown[]).filter(Array.isArray).map((p) => (p as unknown[]).map(String)) : [];
    const op: Op = { row: { ...stripControl(raw), id }, merge: raw._is_merge === true, del: raw._object_delete === true, mergePaths };
    const list = g.ops.get(id);
    if (list) list.push(op);
    else g.ops.set(id, [op]);
  }
  if (groups.size === 0) return { written: 0, skipped };

  let written = 0;
  await store.write(async (conn) => {
    // Existing rows are needed for merges and to keep a row's pagination key stable across updates;
    // they are read under the write lock so concurrent batches touching one id cannot lose updates.
    const existing = new Map<string, Map<string, { pk: bigint; rec: Rec }>>();
    for (const [gk, g] of groups) existing.set(gk, await store.fetchRows(g.key, [...g.ops.keys()], conn));
    const xact = store.allocXact();
    const now = new Date();
    for (const [gk, g] of groups) {
      const have = existing.get(gk)!;
      const finals: Array<{ rec: Rec; pk: bigint | undefined }> = [];
      const ids: string[] = [];
      for (const [id, ops] of g.ops) {
        const prev = have.get(id);
        let cur: Rec | undefined = prev?.rec;
        for (const op of ops) {
          if (op.del) cur = undefined;
          else if (op.merge && cur) cur = deepMerge(cur, op.row, op.mergePaths);
          else {
            const next: Rec = { ...op.row };
            if (next.created === undefined && cur?.created !== undefined) next.created = cur.created;
            cur = next;
          }
        }
        ids.push(id);
        written += ops.length;
        if (cur) finals.push({ rec: cur, pk: prev?.pk });
      }
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = ids.slice(i, i + 1000);
        await conn.run(
          `DELETE FROM rows WHERE object_type = '${g.key.type}' AND object_id = ${sqlStr(g.key.id)} AND id IN (${chunk.map(sqlStr).join(', ')})`,
        );
      }
      const fresh = finals.filter((f) => f.pk === undefined).length;
      let nextPk = fresh ? store.allocPk(fresh) : 0n;
      const values = finals.map((f) => {
        const pk = f.pk ?? nextPk++;
        return store.rowValues(g.key, f.rec, xact, pk, now, { projectId: g.projectId });
      });
      await store.insertRows(conn, values);
    }
  });
  return { written, skipped };
}
