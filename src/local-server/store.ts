/**
 * DuckDB-backed storage for the local Braintrust-compatible server.
 *
 * One `rows` table holds the rows of every object (project logs, experiments, datasets), keyed by
 * (object_type, object_id, id). Nested values (input, output, scores, metrics, metadata, facets, …)
 * are JSON columns because score and facet names differ per project and change over time.
 * Writes are serialized through one lock; each write gets a new, monotonically increasing `_xact_id`,
 * and each new row a monotonically increasing `_pk` (exposed as `_pagination_key`).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { QueryError } from './btql/ast.js';
import { sqlStr } from './btql/translate.js';

export const XACT_BASE = 1_000_000_000_000_000_000n;

export const ROW_COLUMNS = [
  'object_type', 'object_id', 'id', '_xact_id', '_pk', 'created', 'org_id', 'project_id', 'experiment_id',
  'dataset_id', 'log_id', 'span_id', 'root_span_id', 'span_parents', 'is_root', 'input', 'output', 'expected',
  'error', 'scores', 'metrics', 'metadata', 'tags', 'context', 'span_attributes', 'origin', 'facets',
  'classifications', 'comments', 'audit_data', 'extra',
] as const;

/** Record fields stored in JSON columns. */
export const JSON_FIELDS = [
  'span_parents', 'input', 'output', 'expected', 'error', 'scores', 'metrics', 'metadata', 'tags', 'context',
  'span_attributes', 'origin', 'facets', 'classifications', 'comments', 'audit_data',
] as const;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS projects (
  id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, org_id VARCHAR, description VARCHAR, created TIMESTAMP, user_id VARCHAR);
CREATE TABLE IF NOT EXISTS experiments (
  id VARCHAR PRIMARY KEY, project_id VARCHAR NOT NULL, name VARCHAR NOT NULL, description VARCHAR, created TIMESTAMP,
  dataset_id VARCHAR, dataset_version VARCHAR, base_exp_id VARCHAR, git_commit VARCHAR, user_id VARCHAR,
  public BOOLEAN, tags JSON, metadata JSON, repo_info JSON);
CREATE TABLE IF NOT EXISTS datasets (
  id VARCHAR PRIMARY KEY, project_id VARCHAR NOT NULL, name VARCHAR NOT NULL, description VARCHAR, created TIMESTAMP,
  metadata JSON, user_id VARCHAR);
CREATE TABLE IF NOT EXISTS functions (
  id VARCHAR PRIMARY KEY, _xact_id BIGINT, created TIMESTAMP, org_id VARCHAR, project_id VARCHAR NOT NULL, log_id VARCHAR,
  name VARCHAR, slug VARCHAR NOT NULL, description VARCHAR, function_type VARCHAR, function_data JSON,
  function_schema JSON, prompt_data JSON, tags JSON, metadata JSON, origin JSON);
CREATE TABLE IF NOT EXISTS bundles (id VARCHAR PRIMARY KEY, created TIMESTAMP, data BLOB);
CREATE TABLE IF NOT EXISTS rows (
  object_type VARCHAR NOT NULL, object_id VARCHAR NOT NULL, id VARCHAR NOT NULL, _xact_id BIGINT NOT NULL,
  _pk BIGINT NOT NULL, created TIMESTAMP, org_id VARCHAR, project_id VARCHAR, experiment_id VARCHAR,
  dataset_id VARCHAR, log_id VARCHAR, span_id VARCHAR, root_span_id VARCHAR, span_parents JSON, is_root BOOLEAN,
  input JSON, output JSON, expected JSON, error JSON, scores JSON, metrics JSON, metadata JSON, tags JSON,
  context JSON, span_attributes JSON, origin JSON, facets JSON, classifications JSON, comments JSON,
  audit_data JSON, extra JSON);
`;

export interface ProjectRec {
  id: string;
  name: string;
  org_id: string;
  description: string | null;
  created: string;
  user_id: string | null;
}

export interface ExperimentRec {
  id: string;
  project_id: string;
  name: string;
  description: string | null;
  created: string;
  dataset_id: string | null;
  dataset_version: string | null;
  base_exp_id: string | null;
  commit: string | null;
  user_id: string | null;
  public: boolean;
  tags: string[] | null;
  metadata: Record<string, unknown> | null;
  repo_info: Record<string, unknown> | null;
}

export interface DatasetRec {
  id: string;
  project_id: string;
  name: string;
  description: string | null;
  created: string;
  metadata: Record<string, unknown> | null;
  user_id: string | null;
}

export type ObjectType = 'project_logs' | 'experiment' | 'dataset';

export interface ObjectKey {
  type: ObjectType;
  id: string;
}

/** A row as clients see it (Braintrust field names), before storage. */
export type Rec = Record<string, unknown>;

const ISO = (col: string) => `strftime(${col}, '%Y-%m-%dT%H:%M:%S.%gZ')`;

function tsSql(v: unknown, fallback: Date): string {
  return `TIMESTAMP ${sqlStr(tsIso(v, fallback))}`;
}

/** A row's `created` (ISO string or epoch seconds/ms) as TIMESTAMP text, else `fallback`. */
function tsIso(v: unknown, fallback: Date): string {
  let d: Date | undefined;
  if (typeof v === 'string' && v) {
    const p = new Date(v);
    if (!Number.isNaN(p.getTime())) d = p;
  } else if (typeof v === 'number' && Number.isFinite(v)) {
    d = new Date(v > 1e12 ? v : v * 1000);
  }
  const x = d ?? fallback;
  return x.toISOString().replace('T', ' ').replace('Z', '');
}

function strSql(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  return sqlStr(typeof v === 'string' ? v : JSON.stringify(v));
}

function jsonSql(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  return `${sqlStr(JSON.stringify(v))}::JSON`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Braintrust merge: objects merge recursively, everything else (arrays included) is replaced. */
export function deepMerge(base: Rec, patch: Rec, replacePaths: string[][] = [], prefix: string[] = []): Rec {
  const out: Rec = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const path = [...prefix, k];
    const replace = replacePaths.some((p) => p.length === path.length && p.every((s, i) => s === path[i]));
    const cur = out[k];
    if (!replace && isPlainObject(cur) && isPlainObject(v)) out[k] = deepMerge(cur, v, replacePaths, path);
    else out[k] = v;
  }
  return out;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

export class Store {
  private writeLock = new Mutex();
  private nextXact = XACT_BASE;
  private nextPk = 1n;
  orgId = '';

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    readonly dataFile: string,
  ) {}

  static async open(dataFile: string): Promise<Store> {
    if (dataFile !== ':memory:') mkdirSync(dirname(dataFile), { recursive: true });
    const instance = await DuckDBInstance.create(dataFile);
    const writer = await instance.connect();
    const store = new Store(instance, writer, dataFile);
    await store.init();
    return store;
  }

  private async init(): Promise<void> {
    for (const stmt of SCHEMA.split(';').map((s) => s.trim()).filter(Boolean)) await this.writer.run(stmt);
    const org = await this.scalar(`SELECT value FROM meta WHERE key = 'org_id'`);
    if (org) this.orgId = String(org);
    else {
      this.orgId = randomUUID();
      await this.writer.run(`INSERT INTO meta VALUES ('org_id', ${sqlStr(this.orgId)})`);
    }
    const x = await this.scalar(
      `SELECT CAST(greatest(coalesce((SELECT max(_xact_id) FROM rows), 0), coalesce((SELECT max(_xact_id) FROM functions), 0)) AS VARCHAR)`,
    );
    const maxX = BigInt(String(x ?? '0'));
    this.nextXact = maxX >= XACT_BASE ? maxX + 1n : XACT_BASE + 1n;
    const pk = await this.scalar(`SELECT CAST(coalesce(max(_pk), 0) AS VARCHAR) FROM rows`);
    this.nextPk = BigInt(String(pk ?? '0')) + 1n;
  }

  async close(): Promise<void> {
    await this.writeLock.run(async () => {
      try {
        await this.writer.run('CHECKPOINT');
      } catch {
        // best effort
      }
      this.writer.closeSync();
      this.instance.closeSync();
    });
  }

  /** Runs a read-only statement on a fresh connection; returns plain JSON row objects. */
  async read(sql: string): Promise<Array<Record<string, unknown>>> {
    const conn = await this.instance.connect();
    try {
      const r = await conn.runAndReadAll(sql);
      return r.getRowObjectsJson() as Array<Record<string, unknown>>;
    } finally {
      conn.closeSync();
    }
  }

  /** Runs a statement whose single column `j` is JSON text, and parses it. */
  async readJson(sql: string): Promise<Array<Record<string, unknown>>>;
  /** Same, on a given connection (e.g. the writer, inside a write transaction). */
  async readJson(conn: DuckDBConnection | undefined, sql: string): Promise<Array<Record<string, unknown>>>;
  async readJson(a: string | DuckDBConnection | undefined, b?: string): Promise<Array<Record<string, unknown>>> {
    const sql = typeof a === 'string' ? a : b!;
    const conn = typeof a === 'string' ? undefined : a;
    const wrapped = `SELECT to_json(q)::VARCHAR AS j FROM (${sql}) q`;
    const rows = conn ? ((await conn.runAndReadAll(wrapped)).getRowObjectsJson() as Array<Record<string, unknown>>) : await this.read(wrapped);
    return rows.map((r) => JSON.parse(String(r.j)) as Record<string, unknown>);
  }

  private async scalar(sql: string): Promise<unknown> {
    const r = await this.writer.runAndReadAll(sql);
    const rows = r.getRowsJson();
    return rows[0]?.[0] ?? null;
  }

  /** Runs `fn` holding the write lock, inside a transaction. */
  async write<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.writeLock.run(async () => {
      await this.writer.run('BEGIN TRANSACTION');
      try {
        const out = await fn(this.writer);
        await this.writer.run('COMMIT');
        return out;
      } catch (e) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  allocXact(): bigint {
    return this.nextXact++;
  }

  allocPk(n: number): bigint {
    const first = this.nextPk;
    this.nextPk += BigInt(n);
    return first;
  }

  // ---------------------------------------------------------------- projects
  private projectSelect = `SELECT id, name, org_id, description, ${ISO('created')} AS created, user_id FROM projects`;

  async listProjects(filter: { name?: string; ids?: string[] } = {}): Promise<ProjectRec[]> {
    const where: string[] = [];
    if (filter.name !== undefined) where.push(`name = ${sqlStr(filter.name)}`);
    if (filter.ids) where.push(filter.ids.length ? `id IN (${filter.ids.map(sqlStr).join(', ')})` : 'FALSE');
    return (await this.readJson(`${this.projectSelect}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created DESC, name`)) as unknown as ProjectRec[];
  }

  async getProject(idOrName: string): Promise<ProjectRec | undefined> {
    const rows = (await this.readJson(
      `${this.projectSelect} WHERE id = ${sqlStr(idOrName)} OR name = ${sqlStr(idOrName)} ORDER BY (id = ${sqlStr(idOrName)}) DESC LIMIT 1`,
    )) as unknown as ProjectRec[];
    return rows[0];
  }

  /** Returns the project with this name, creating it (optionally with a given id) when missing. */
  async ensureProject(name: string, opts: { id?: string; description?: string | null } = {}): Promise<ProjectRec> {
    // Check and insert under the write lock so concurrent callers never create two projects of one name.
    const id = await this.write(async (c) => {
      const first = async (sql: string) => ((await c.runAndReadAll(sql)).getRowsJson()[0]?.[0] as string | undefined) ?? undefined;
      if (opts.id) {
        const byId = await first(`SELECT id FROM projects WHERE id = ${sqlStr(opts.id)}`);
        if (byId) return byId;
      }
      const byName = await first(`SELECT id FROM projects WHERE name = ${sqlStr(name)}`);
      if (byName && !opts.id) return byName;
      const newId = opts.id ?? randomUUID();
      const finalName = byName ? `${name}-${newId.slice(0, 8)}` : name;
      await c.run(
        `INSERT INTO projects VALUES (${sqlStr(newId)}, ${sqlStr(finalName)}, ${sqlStr(this.orgId)}, ${strSql(opts.description ?? null)}, ${tsSql(undefined, new Date())}, NULL)`,
      );
      return newId;
    });
    return (await this.listProjects({ ids: [id] }))[0]!;
  }

  // ---------------------------------------------------------------- experiments
  private experimentSelect = `SELECT id, project_id, name, description, ${ISO('created')} AS created, dataset_id, dataset_version,
    base_exp_id, git_commit AS "commit", user_id, coalesce(public, FALSE) AS public, tags, metadata, repo_info FROM experiments`;

  async listExperiments(filter: { projectId?: string; name?: string; ids?: string[] } = {}): Promise<ExperimentRec[]> {
    const where: string[] = [];
    if (filter.projectId !== undefined) where.push(`project_id = ${sqlStr(filter.projectId)}`);
    if (filter.name !== undefined) where.push(`name = ${sqlStr(filter.name)}`);
    if (filter.ids) where.push(filter.ids.length ? `id IN (${filter.ids.map(sqlStr).join(', ')})` : 'FALSE');
    return (await this.readJson(
      `${this.experimentSelect}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created DESC, id DESC`,
    )) as unknown as ExperimentRec[];
  }

  async getExperiment(id: string): Promise<ExperimentRec | undefined> {
    return (await this.listExperiments({ ids: [id] }))[0];
  }

  /** Creates an experiment; its name gets a `-N` suffix when the project already has one of that name. */
  async createExperiment(e: Partial<ExperimentRec> & { project_id: string; name: string }): Promise<ExperimentRec> {
    const id = e.id ?? randomUUID();
    await this.write(async (c) => {
      const taken = new Set(
        (await c.runAndReadAll(`SELECT name FROM experiments WHERE project_id = ${sqlStr(e.project_id)}`)).getRowsJson().map((r) => String(r[0])),
      );
      let name = e.name;
      for (let i = 1; taken.has(name); i++) name = `${e.name}-${i}`;
      e = { ...e, name };
      await c.run(
        `INSERT INTO experiments VALUES (${sqlStr(id)}, ${sqlStr(e.project_id)}, ${sqlStr(e.name)}, ${strSql(e.description ?? null)},
          ${tsSql(e.created, new Date())}, ${strSql(e.dataset_id ?? null)}, ${strSql(e.dataset_version ?? null)},
          ${strSql(e.base_exp_id ?? null)}, ${strSql(e.commit ?? null)}, ${strSql(e.user_id ?? null)}, ${e.public ? 'TRUE' : 'FALSE'},
          ${jsonSql(e.tags ?? null)}, ${jsonSql(e.metadata ?? null)}, ${jsonSql(e.repo_info ?? null)}) ON CONFLICT DO NOTHING`,
      );
    });
    return (await this.getExperiment(id))!;
  }

  /** A name not yet used by an experiment of the project (`name`, `name-1`, `name-2`, …). */
  async uniqueExperimentName(projectId: string, name: string): Promise<string> {
    const taken = new Set((await this.listExperiments({ projectId })).map((e) => e.name));
    if (!taken.has(name)) return name;
    for (let i = 1; ; i++) if (!taken.has(`${name}-${i}`)) return `${name}-${i}`;
  }

  // ---------------------------------------------------------------- datasets
  private datasetSelect = `SELECT id, project_id, name, description, ${ISO('created')} AS created, metadata, user_id FROM datasets`;

  async listDatasets(filter: { projectId?: string; name?: string; ids?: string[] } = {}): Promise<DatasetRec[]> {
    const where: string[] = [];
    if (filter.projectId !== undefined) where.push(`project_id = ${sqlStr(filter.projectId)}`);
    if (filter.name !== undefined) where.push(`name = ${sqlStr(filter.name)}`);
    if (filter.ids) where.push(filter.ids.length ? `id IN (${filter.ids.map(sqlStr).join(', ')})` : 'FALSE');
    return (await this.readJson(
      `${this.datasetSelect}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created DESC, id DESC`,
    )) as unknown as DatasetRec[];
  }

  async getDataset(id: string): Promise<DatasetRec | undefined> {
    return (await this.listDatasets({ ids: [id] }))[0];
  }

  /** Returns the dataset with this name in the project, creating it when missing. */
  async ensureDataset(d: { project_id: string; name: string; id?: string; description?: string | null; metadata?: unknown }): Promise<DatasetRec> {
    const id = await this.write(async (c) => {
      const first = async (sql: string) => ((await c.runAndReadAll(sql)).getRowsJson()[0]?.[0] as string | undefined) ?? undefined;
      if (d.id) {
        const byId = await first(`SELECT id FROM datasets WHERE id = ${sqlStr(d.id)}`);
        if (byId) return byId;
      }
      const existing = await first(`SELECT id FROM datasets WHERE project_id = ${sqlStr(d.project_id)} AND name = ${sqlStr(d.name)}`);
      if (existing) return existing;
      const newId = d.id ?? randomUUID();
      await c.run(
        `INSERT INTO datasets VALUES (${sqlStr(newId)}, ${sqlStr(d.project_id)}, ${sqlStr(d.name)}, ${strSql(d.description ?? null)},
          ${tsSql(undefined, new Date())}, ${jsonSql(d.metadata ?? null)}, NULL)`,
      );
      return newId;
    });
    return (await this.getDataset(id))!;
  }

  // ---------------------------------------------------------------- functions and bundles
  private functionSelect = `SELECT id, CAST(_xact_id AS VARCHAR) AS _xact_id, ${ISO('created')} AS created, org_id, project_id, log_id, name, slug,
    description, function_type, function_data, function_schema, prompt_data, tags, metadata, origin FROM functions`;

  async listFunctions(filter: { projectId?: string; slug?: string; ids?: string[]; functionType?: string; name?: string } = {}): Promise<Rec[]> {
    const where: string[] = [];
    if (filter.projectId !== undefined) where.push(`project_id = ${sqlStr(filter.projectId)}`);
    if (filter.slug !== undefined) where.push(`slug = ${sqlStr(filter.slug)}`);
    if (filter.name !== undefined) where.push(`name = ${sqlStr(filter.name)}`);
    if (filter.functionType !== undefined) where.push(`function_type = ${sqlStr(filter.functionType)}`);
    if (filter.ids) where.push(filter.ids.length ? `id IN (${filter.ids.map(sqlStr).join(', ')})` : 'FALSE');
    return this.readJson(`${this.functionSelect}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created DESC, id`);
  }

  /** Inserts or replaces functions by (project_id, slug). Returns how many were ignored. */
  async upsertFunctions(fns: Rec[]): Promise<{ ignored: number; errors: string[] }> {
    let ignored = 0;
    const errors: string[] = [];
    await this.write(async (c) => {
      const xact = this.allocXact();
      for (const f of fns) {
        const projectId = String(f.project_id ?? '');
        const slug = String(f.slug ?? '');
        if (!projectId || !slug) {
          errors.push('function needs project_id and slug');
          continue;
        }
        const existing = await c.runAndReadAll(
          `SELECT id FROM functions WHERE project_id = ${sqlStr(projectId)} AND slug = ${sqlStr(slug)}`,
        );
        const existingId = existing.getRowsJson()[0]?.[0] as string | undefined;
        const mode = String(f.if_exists ?? 'error');
        if (existingId) {
          if (mode === 'ignore') {
            ignored++;
            continue;
          }
          if (mode !== 'replace') {
            errors.push(`function with slug '${slug}' already exists in project ${projectId} (if_exists=${mode})`);
            continue;
          }
          await c.run(`DELETE FROM functions WHERE id = ${sqlStr(existingId)}`);
        }
        const id = existingId ?? (typeof f.id === 'string' ? f.id : randomUUID());
        await c.run(
          `INSERT INTO functions VALUES (${sqlStr(id)}, ${xact}, ${tsSql(undefined, new Date())}, ${sqlStr(this.orgId)}, ${sqlStr(projectId)}, 'p',
            ${strSql(f.name ?? slug)}, ${sqlStr(slug)}, ${strSql(f.description ?? null)}, ${strSql(f.function_type ?? null)},
            ${jsonSql(f.function_data ?? null)}, ${jsonSql(f.function_schema ?? null)}, ${jsonSql(f.prompt_data ?? null)},
            ${jsonSql(f.tags ?? null)}, ${jsonSql(f.metadata ?? null)}, ${jsonSql(f.origin ?? null)})`,
        );
      }
    });
    return { ignored, errors };
  }

  async putBundle(id: string, data: Buffer): Promise<void> {
    await this.write(async (c) => {
      await c.run(`DELETE FROM bundles WHERE id = ${sqlStr(id)}`);
      await c.run(`INSERT INTO bundles VALUES (${sqlStr(id)}, ${tsSql(undefined, new Date())}, from_base64(${sqlStr(data.toString('base64'))}))`);
    });
  }

  async hasBundle(id: string): Promise<boolean> {
    return (await this.read(`SELECT 1 AS x FROM bundles WHERE id = ${sqlStr(id)}`)).length > 0;
  }

  // ---------------------------------------------------------------- rows
  /** Reads stored rows by id as client-facing records (plus their `_pk`). */
  async fetchRows(key: ObjectKey, ids: string[], conn?: DuckDBConnection): Promise<Map<string, { pk: bigint; rec: Rec }>> {
    const out = new Map<string, { pk: bigint; rec: Rec }>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = await this.readJson(
        conn,
        `SELECT id, CAST(_pk AS VARCHAR) AS __pk, ${ISO('created')} AS created, ${JSON_FIELDS.join(', ')}, extra FROM rows
         WHERE object_type = ${sqlStr(key.type)} AND object_id = ${sqlStr(key.id)} AND id IN (${chunk.map(sqlStr).join(', ')})`,
      );
      for (const r of rows) {
        const { __pk, extra, ...rest } = r;
        const rec: Rec = { ...(isPlainObject(extra) ? extra : {}), ...rest };
        for (const k of Object.keys(rec)) if (rec[k] === null) delete rec[k];
        out.set(String(r.id), { pk: BigInt(String(__pk)), rec });
      }
    }
    return out;
  }

  /**
   * One normalized row's values in INSERT_COLUMNS order: plain text, the row's `created` as timestamp text and JSON
   * fields as JSON text (both cast by `insertRows`, exactly as SQL literals would be), bigints, a boolean, or null.
   */
  rowValues(key: ObjectKey, rec: Rec, xact: bigint, pk: bigint, now: Date, ctx: { projectId: string }): RowValue[] {
    const id = String(rec.id);
    const spanId = typeof rec.span_id === 'string' && rec.span_id ? rec.span_id : id;
    const rootSpanId = typeof rec.root_span_id === 'string' && rec.root_span_id ? rec.root_span_id : spanId;
    const parents = Array.isArray(rec.span_parents) ? rec.span_parents : null;
    const isRoot = parents === null || parents.length === 0;
    const extra: Rec = {};
    for (const [k, v] of Object.entries(rec)) {
      if (KNOWN_FIELDS.has(k) || k.startsWith('_')) continue;
      extra[k] = v;
    }
    const vals: RowValue[] = [
      text(key.type),
      text(key.id),
      text(id),
      xact,
      pk,
      tsIso(rec.created, now),
      key.type === 'project_logs' ? text(this.orgId) : null,
      text(ctx.projectId),
      key.type === 'experiment' ? text(key.id) : null,
      key.type === 'dataset' ? text(key.id) : null,
      key.type === 'project_logs' ? 'g' : null,
      text(spanId),
      text(rootSpanId),
      jsonText(parents && parents.length ? parents : null),
      isRoot,
    ];
    for (const f of JSON_FIELDS) {
      if (f === 'span_parents') continue;
      vals.push(jsonText(rec[f]));
    }
    vals.push(jsonText(Object.keys(extra).length ? extra : null));
    return vals;
  }

  /**
   * Inserts rows (from `rowValues`) on the writer inside `write()`: appended to a per-connection staging table, then
   * moved with one INSERT … SELECT that casts `created` to TIMESTAMP and the JSON fields to JSON — the same casts the
   * SQL literals of a VALUES list would get, without DuckDB parsing a statement as large as the rows themselves.
   */
  async insertRows(conn: DuckDBConnection, rows: RowValue[][]): Promise<void> {
    if (!rows.length) return;
    await conn.run(`CREATE TEMP TABLE IF NOT EXISTS ${STAGE_TABLE} (${INSERT_COLUMNS.map((c) => `${c} ${stageType(c)}`).join(', ')})`);
    await conn.run(`DELETE FROM ${STAGE_TABLE}`);
    const appender = await conn.createAppender(STAGE_TABLE, 'main', 'temp');
    try {
      for (const row of rows) {
        if (row.length !== INSERT_COLUMNS.length) throw new Error(`a row has ${row.length} values for ${INSERT_COLUMNS.length} columns`);
        for (const v of row) {
          if (v === null) appender.appendNull();
          else if (typeof v === 'bigint') appender.appendBigInt(v);
          else if (typeof v === 'boolean') appender.appendBoolean(v);
          else appender.appendVarchar(v);
        }
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
    const select = INSERT_COLUMNS.map((c) => (c === 'created' ? 'CAST(created AS TIMESTAMP)' : STAGE_JSON.has(c) ? `CAST(${c} AS JSON)` : c));
    await conn.run(`INSERT INTO rows (${INSERT_COLUMNS.join(', ')}) SELECT ${select.join(', ')} FROM ${STAGE_TABLE}`);
    await conn.run(`DELETE FROM ${STAGE_TABLE}`);
  }
}

/** A column value for `insertRows`. */
export type RowValue = string | bigint | boolean | null;

/** Text for a VARCHAR column; NUL is refused as it is in SQL literals (a 400 for the client). */
function text(s: string): string {
  if (s.includes('\u0000')) throw new QueryError('NUL characters are not allowed in literals');
  return s;
}

function jsonText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return JSON.stringify(v);
}

const STAGE_TABLE = 'rows_stage';
const STAGE_JSON = new Set<string>([...JSON_FIELDS, 'extra']);

function stageType(col: string): string {
  if (col === '_xact_id' || col === '_pk') return 'BIGINT';
  if (col === 'is_root') return 'BOOLEAN';
  return 'VARCHAR';
}

const KNOWN_FIELDS = new Set<string>([
  'id', 'created', 'org_id', 'project_id', 'experiment_id', 'dataset_id', 'log_id', 'span_id', 'root_span_id',
  'is_root', ...JSON_FIELDS,
]);

/** Column list in insertion order for `INSERT INTO rows (…)`. */
export const INSERT_COLUMNS = [
  'object_type', 'object_id', 'id', '_xact_id', '_pk', 'created', 'org_id', 'project_id', 'experiment_id', 'dataset_id',
  'log_id', 'span_id', 'root_span_id', 'span_parents', 'is_root',
  ...JSON_FIELDS.filter((f) => f !== 'span_parents'),
  'extra',
];
