/**
 * Loads `bt sync pull` output into the store:
 * `<root>/<object_type>_<id>/<spec hash>/{spec.json, manifest.json, data/part-*.jsonl}`.
 * Accepts the root, one object directory, or one spec directory. Rows are bulk-loaded with DuckDB's
 * `read_json` into a staging table, then replace rows with the same (object, id): loading the same
 * snapshot twice does not duplicate anything.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { sqlStr } from './btql/translate.js';
import { INSERT_COLUMNS, JSON_FIELDS, type ObjectType, type Store } from './store.js';
import type { SeedOptions, SeedResult } from './types.js';

interface SpecDir {
  dir: string;
  type: ObjectType;
  id: string;
  name?: string;
  files: string[];
}

const OBJECT_TYPES: ObjectType[] = ['project_logs', 'experiment', 'dataset'];
const UUIDISH = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function findSpecDirs(root: string, depth = 0): string[] {
  if (existsSync(join(root, 'spec.json'))) return [root];
  if (depth >= 3) return [];
  const out: string[] = [];
  for (const name of readdirSync(root).sort()) {
    const p = join(root, name);
    if (isDir(p) && name !== 'data') out.push(...findSpecDirs(p, depth + 1));
  }
  return out;
}

function describe(specDir: string): SpecDir | undefined {
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(readFileSync(join(specDir, 'spec.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (spec.direction !== undefined && spec.direction !== 'pull') return undefined;
  const objectDir = basename(dirname(specDir));
  let type = OBJECT_TYPES.find((t) => spec.object_type === t) ?? OBJECT_TYPES.find((t) => objectDir.startsWith(`${t}_`));
  if (!type) return undefined;
  let id: string | undefined;
  if (objectDir.startsWith(`${type}_`)) id = objectDir.slice(type.length + 1);
  const ref = typeof spec.object_ref === 'string' ? spec.object_ref : '';
  const refId = ref.includes(':') ? ref.slice(ref.indexOf(':') + 1) : '';
  if (!id && refId) id = refId;
  if (!id) return undefined;
  if (!type) type = 'project_logs';
  const dataDir = join(specDir, 'data');
  const files = isDir(dataDir)
    ? readdirSync(dataDir)
        .filter((f) => /\.(jsonl|ndjson)$/.test(f))
        .sort()
        .map((f) => join(dataDir, f))
    : [];
  const objectName = typeof spec.object_name === 'string' ? spec.object_name : refId;
  const out: SpecDir = { dir: specDir, type, id, files };
  if (objectName && objectName !== id && !UUIDISH.test(objectName)) out.name = objectName;
  return out;
}

const STAGE_COLUMNS: Record<string, string> = {
  id: 'VARCHAR',
  _xact_id: 'VARCHAR',
  _pagination_key: 'VARCHAR',
  created: 'VARCHAR',
  project_id: 'VARCHAR',
  experiment_id: 'VARCHAR',
  dataset_id: 'VARCHAR',
  span_id: 'VARCHAR',
  root_span_id: 'VARCHAR',
  is_root: 'BOOLEAN',
  ...Object.fromEntries(JSON_FIELDS.map((f) => [f, 'JSON'])),
};

export async function seedFromSyncDir(store: Store, dir: string, opts: SeedOptions = {}): Promise<SeedResult> {
  const root = resolve(dir);
  if (!isDir(root)) throw new Error(`not a directory: ${root}`);
  const specs = findSpecDirs(root)
    .map(describe)
    .filter((s): s is SpecDir => !!s && s.files.length > 0);
  if (specs.length === 0) throw new Error(`no bt sync pull data (spec.json + data/*.jsonl) found under ${root}`);
  const projects = new Set<string>();
  const projectMap = new Map<string, string>();
  let total = 0;

  const resolveProject = async (srcId: string | undefined, nameHint: string | undefined): Promise<string> => {
    const key = srcId ?? '';
    const known = projectMap.get(key);
    if (known) return known;
    let target: string;
    const byId = srcId ? await store.getProject(srcId) : undefined;
    if (byId && byId.id === srcId) target = byId.id;
    else if (opts.projectName) target = (await store.ensureProject(opts.projectName, srcId ? { id: srcId } : {})).id;
    else if (srcId) target = (await store.ensureProject(nameHint ?? `project-${srcId.slice(0, 8)}`, { id: srcId })).id;
    else target = (await store.ensureProject(nameHint ?? 'imported')).id;
    // ensureProject(name, {id}) returns the existing project of that id; when a named project already
    // exists under another id, use it.
    if (opts.projectName && srcId && !byId) {
      const named = (await store.listProjects({ name: opts.projectName }))[0];
      if (named) target = named.id;
    }
    projectMap.set(key, target);
    return target;
  };

  for (const spec of specs) {
    const fileList = `[${spec.files.map(sqlStr).join(', ')}]`;
    const cols = `{${Object.entries(STAGE_COLUMNS)
      .map(([k, v]) => `${sqlStr(k)}: ${sqlStr(v)}`)
      .join(', ')}}`;
    // Peek at the source project/experiment columns (small query) before the transactional load.
    const peek = await store.read(
      `SELECT any_value(project_id) AS project_id, min(created) AS first_created FROM read_json(${fileList}, format = 'newline_delimited', maximum_object_size = 536870912, columns = ${cols})`,
    );
    const srcProject = (peek[0]?.project_id as string | null) ?? (spec.type === 'project_logs' ? spec.id : undefined);
    let objectId = spec.id;
    let projectId: string;
    if (spec.type === 'project_logs') {
      projectId = await resolveProject(spec.id, opts.projectName ?? spec.name);
      objectId = projectId;
    } else {
      projectId = await resolveProject(srcProject ?? undefined, opts.projectName);
      if (spec.type === 'experiment') {
        const e = await store.getExperiment(spec.id);
        if (!e) {
          await store.createExperiment({
            id: spec.id,
            project_id: projectId,
            name: await store.uniqueExperimentName(projectId, spec.name ?? `experiment-${spec.id.slice(0, 8)}`),
            created: (peek[0]?.first_created as string | undefined) ?? new Date().toISOString(),
          });
        }
      } else {
        const d = await store.getDataset(spec.id);
        if (!d) await store.ensureDataset({ id: spec.id, project_id: projectId, name: spec.name ?? `dataset-${spec.id.slice(0, 8)}` });
      }
    }
    projects.add(projectId);

    const n = await store.write(async (conn) => {
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE seed_stage AS SELECT * FROM read_json(${fileList}, format = 'newline_delimited', maximum_object_size = 536870912, columns = ${cols})
         WHERE id IS NOT NULL
         QUALIFY row_number() OVER (PARTITION BY id ORDER BY _xact_id DESC NULLS LAST, _pagination_key DESC NULLS LAST) = 1`,
      );
      const countRes = await conn.runAndReadAll('SELECT CAST(count(*) AS VARCHAR) FROM seed_stage');
      const count = Number(countRes.getRowsJson()[0]?.[0] ?? 0);
      if (count === 0) return 0;
      const xact = store.allocXact();
      const basePk = store.allocPk(count);
      await conn.run(
        `DELETE FROM rows WHERE object_type = ${sqlStr(spec.type)} AND object_id = ${sqlStr(objectId)} AND id IN (SELECT id FROM seed_stage)`,
      );
      const nullIfEmpty = (c: string) => `CASE WHEN json_type(${c}) = 'ARRAY' AND json_array_length(${c}) = 0 THEN NULL ELSE ${c} END`;
      const exprs: Record<string, string> = {
        object_type: sqlStr(spec.type),
        object_id: sqlStr(objectId),
        id: 'id',
        _xact_id: String(xact),
        _pk: `${basePk} + row_number() OVER (ORDER BY _pagination_key ASC NULLS LAST, created ASC, id ASC) - 1`,
        created: `coalesce(CAST(TRY_CAST(created AS TIMESTAMPTZ) AS TIMESTAMP), CAST(now() AS TIMESTAMP))`,
        org_id: spec.type === 'project_logs' ? sqlStr(store.orgId) : 'NULL',
        project_id: sqlStr(projectId),
        experiment_id: spec.type === 'experiment' ? sqlStr(objectId) : 'NULL',
        dataset_id: spec.type === 'dataset' ? sqlStr(objectId) : 'NULL',
        log_id: spec.type === 'project_logs' ? `'g'` : 'NULL',
        span_id: 'coalesce(span_id, id)',
        root_span_id: 'coalesce(root_span_id, span_id, id)',
        span_parents: nullIfEmpty('span_parents'),
        is_root: `coalesce(is_root, span_parents IS NULL OR json_type(span_parents) <> 'ARRAY' OR json_array_length(span_parents) = 0)`,
        extra: 'NULL',
      };
      const select = INSERT_COLUMNS.map((c) => exprs[c] ?? c).join(', ');
      await conn.run(`INSERT INTO rows (${INSERT_COLUMNS.join(', ')}) SELECT ${select} FROM seed_stage`);
      await conn.run('DROP TABLE seed_stage');
      return count;
    });
    total += n;
  }
  return { projects: projects.size, rows: total };
}
