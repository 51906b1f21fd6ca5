/**
 * HTTP routes of the local Braintrust-compatible server: the subset of the control plane (app URL)
 * and data plane (API URL) that the real `bt` binary and the braintrust JS SDK call. Both are served
 * from the same root on 127.0.0.1.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { QueryError } from './btql/ast.js';
import { LintError, runBtql } from './btql/run.js';
import { experimentComparison } from './comparison.js';
import { faultBody, type Faults, MALFORMED_BODY } from './faults.js';
import { functionProblem } from './functions.js';
import { IngestError, ingestRows } from './ingest.js';
import { seedFromSyncDir } from './seed.js';
import type { DatasetRec, ExperimentRec, ProjectRec, Rec, Store } from './store.js';

export const LOCAL_SERVER_VERSION = '0.1.0-local';
/** Largest request body, compressed or decompressed (a gzip bomb is refused while it inflates, not after). */
const MAX_BODY = 256 * 1024 * 1024;
/** A client has this long to send its headers, and the whole request (slow uploads included). */
const HEADERS_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 300_000;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = status === 404 ? 'NotFound' : status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status >= 500 ? 'InternalError' : 'BadRequest',
  ) {
    super(message);
  }
}

export interface ServerConfig {
  store: Store;
  apiKey: string;
  orgName: string;
  /** The clock behind SQL `NOW()`; default the real one. */
  now?: () => Date;
  /** In-process fault injection (off unless a test sets it; see faults.ts). */
  faults?: Faults;
}

type Json = Record<string, unknown>;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { Code: code, Message: message });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function parseJson(buf: Buffer, encoding: string | undefined): Json {
  let data = buf;
  if (encoding && /gzip/i.test(encoding)) {
    try {
      data = gunzipSync(buf, { maxOutputLength: MAX_BODY });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new HttpError(413, `request body too large once decompressed (over ${MAX_BODY} bytes)`);
      throw new HttpError(400, 'invalid gzip body');
    }
  }
  if (data.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8')) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
  } catch {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  const bad = loneSurrogatePath(v);
  if (bad !== null) throw new HttpError(400, `request body has a string with an unpaired UTF-16 surrogate (at ${bad.slice(0, 200)}); send valid Unicode`);
  return v as Json;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The path of the first string (value or key) holding an unpaired surrogate, which JSON.parse accepts from a
 * `\\udXXX` escape but no storage (or UTF-8) can hold; null when there is none. Iterative: any depth.
 */
function loneSurrogatePath(root: unknown): string | null {
  const stack: Array<[unknown, string]> = [[root, '$']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v[i], `${path}[${i}]`]);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return `${path} (a key)`;
        stack.push([x, `${path}.${k}`]);
      }
    }
  }
  return null;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function datasetOut(d: DatasetRec): Json {
  return { ...d, created_at: d.created };
}

function experimentOut(e: ExperimentRec): Json {
  const { repo_info: _repo, ...rest } = e;
  return rest;
}

export class LocalApi {
  private server: Server | undefined;
  baseUrl = '';

  constructor(private readonly cfg: ServerConfig) {}

  async listen(port: number): Promise<number> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'InternalError', (e as Error).message);
        else res.end();
      });
    });
    server.keepAliveTimeout = 5000;
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    this.server = server;
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolveListen();
      });
    });
    const actual = (server.address() as AddressInfo).port;
    this.baseUrl = `http://127.0.0.1:${actual}`;
    return actual;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (!m) return false;
    const a = Buffer.from(m[1]!.trim());
    const b = Buffer.from(this.cfg.apiKey);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private bundleToken(id: string): string {
    return createHmac('sha256', this.cfg.apiKey).update(`bundle:${id}`).digest('hex');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
    const method = req.method ?? 'GET';
    const debug = process.env.BT_LOCAL_SERVER_DEBUG;
    if (debug) {
      // One line per finished request with its status and time in the server (reading the body included).
      const t0 = performance.now();
      res.once('finish', () => {
        process.stderr.write(`[local-server] done ${res.statusCode} ${(performance.now() - t0).toFixed(1)} ms ${method} ${url.pathname}\n`);
      });
    }
    try {
      // Signed upload URL for function bundles: authorized by its token, not by the API key.
      const bundle = /^\/local\/bundle\/([A-Za-z0-9-]+)$/.exec(path);
      if (bundle && method === 'PUT') {
        const id = bundle[1]!;
        const token = url.searchParams.get('token') ?? '';
        const expected = this.bundleToken(id);
        if (token.length !== expected.length || !timingSafeEqual(Buffer.from(token), Buffer.from(expected))) {
          throw new HttpError(403, 'invalid upload token');
        }
        await this.cfg.store.putBundle(id, await readBody(req));
        res.writeHead(200, { 'content-length': 0 });
        res.end();
        return;
      }
      if (!this.authorized(req)) throw new HttpError(401, 'missing or invalid API key (Authorization: Bearer <key>)');
      const raw = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(req);
      const body = parseJson(raw, req.headers['content-encoding']);
      if (debug) process.stderr.write(`[local-server] ${method} ${url.pathname}${url.search} ${raw.length ? JSON.stringify(body).slice(0, 2000) : ''}\n`);
      // Injected faults apply only to requests that passed every check above (never letting one through).
      const fault = this.cfg.faults?.decide(method, path);
      if (fault) {
        if (fault.slowMs > 0) await new Promise((r) => setTimeout(r, fault.slowMs));
        if (res.destroyed) return;
        if (fault.status !== undefined) {
          const text = JSON.stringify(faultBody(fault.status));
          res.writeHead(fault.status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
            ...(fault.status === 429 || fault.status === 503 ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
          });
          res.end(text);
          return;
        }
        if (fault.malformed) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(MALFORMED_BODY) });
          res.end(MALFORMED_BODY);
          return;
        }
      }
      const out = await this.route(method, path, url.searchParams, body);
      send(res, 200, out);
    } catch (e) {
      if (e instanceof HttpError) return sendError(res, e.status, e.code, e.message);
      if (e instanceof LintError) return sendError(res, 400, 'BadRequest', e.message);
      if (e instanceof QueryError) return sendError(res, 400, 'BadRequest', e.message);
      if (e instanceof IngestError) return sendError(res, e.status, e.status === 404 ? 'NotFound' : 'BadRequest', e.message);
      // Malformed input, not a server fault: a bad %-escape in the path, or JSON nested too deep to walk.
      if (e instanceof URIError) return sendError(res, 400, 'BadRequest', 'malformed percent-escape in the request path');
      if (e instanceof RangeError && /call stack/i.test(e.message)) return sendError(res, 400, 'BadRequest', 'request body is nested too deeply');
      if (debug) process.stderr.write(`[local-server] error ${(e as Error).stack}\n`);
      return sendError(res, 500, 'InternalError', (e as Error).message);
    }
  }

  private async route(method: string, path: string, qs: URLSearchParams, body: Json): Promise<unknown> {
    const store = this.cfg.store;
    const key = `${method} ${path}`;
    switch (key) {
      case 'POST /api/apikey/login':
        return { org_info: [{ id: store.orgId, name: this.cfg.orgName, git_metadata: null }] };
      case 'GET /version':
        return { version: LOCAL_SERVER_VERSION, logs3_payload_max_bytes: null, brainstore_default: true };
      case 'POST /logs3':
        return this.logs3(body);
      case 'POST /btql':
        return runBtql(store, body, (this.cfg.now ?? (() => new Date()))());
      case 'GET /v1/project':
      case 'GET /api/project':
        return this.getProjects(qs);
      case 'POST /v1/project': {
        const name = str(body.name);
        if (!name) throw new HttpError(400, 'name is required');
        return store.ensureProject(name, { description: str(body.description) ?? null });
      }
      case 'GET /v1/experiment':
        return { objects: (await this.findExperiments(qs)).map(experimentOut) };
      case 'POST /v1/experiment':
        return experimentOut(await this.createExperiment(body));
      case 'GET /v1/dataset':
        return { objects: (await this.findDatasets(qs)).map(datasetOut) };
      case 'POST /v1/dataset': {
        const projectId = await this.projectIdFrom(body);
        const name = str(body.name);
        if (!name) throw new HttpError(400, 'name is required');
        return datasetOut(await store.ensureDataset({ project_id: projectId, name, description: str(body.description) ?? null, metadata: body.metadata }));
      }
      case 'GET /v1/function':
        return { objects: await this.findFunctions(qs) };
      case 'POST /v1/function':
        return this.createFunction(body);
      case 'POST /function/code': {
        const id = randomUUID();
        return { url: `${this.baseUrl}/local/bundle/${id}?token=${this.bundleToken(id)}`, bundleId: id };
      }
      case 'POST /insert-functions':
        return this.insertFunctions(body);
      case 'POST /function/invoke':
      case 'POST /v1/function/invoke':
        throw new HttpError(400, 'function invoke is not supported locally: the local Braintrust server stores functions but does not execute them');
      case 'GET /v1/project_automation':
        return { objects: [] };
      case 'POST /brainstore/automation/get-cursors':
      case 'POST /brainstore/automation/get-object-cursors':
        throw new HttpError(404, 'automation not found (topics are not supported locally)');
      case 'POST /api/ai_secret/get':
        throw new HttpError(404, 'no AI secrets are stored locally');
      case 'POST /api/project/register': {
        const p = await this.projectFrom(body, true);
        return { project: p };
      }
      case 'POST /api/experiment/register':
        return this.registerExperiment(body);
      case 'POST /api/experiment/get':
        return this.getExperimentsApi(body);
      case 'POST /api/dataset/register': {
        const p = await this.projectFrom(body, true);
        const name = str(body.dataset_name) ?? 'Dataset';
        const d = await store.ensureDataset({ project_id: p.id, name, description: str(body.description) ?? null, metadata: body.metadata });
        return { project: p, dataset: datasetOut(d) };
      }
      case 'POST /api/base_experiment/get_id': {
        const id = str(body.id);
        const e = id ? await store.getExperiment(id) : undefined;
        if (!e) throw new HttpError(400, `experiment ${id ?? ''} not found`);
        const base = e.base_exp_id ? await store.getExperiment(e.base_exp_id) : undefined;
        if (!base) throw new HttpError(400, 'experiment has no base experiment');
        return { base_exp_id: base.id, base_exp_name: base.name };
      }
      case 'GET /experiment-comparison2': {
        const id = qs.get('experiment_id');
        if (!id || !(await store.getExperiment(id))) throw new HttpError(400, 'experiment_id is required and must exist');
        const base = qs.get('base_experiment_id') || undefined;
        if (base && !(await store.getExperiment(base))) throw new HttpError(400, `base experiment ${base} not found`);
        return experimentComparison(store, id, base);
      }
      case 'POST /api/self/get_object_info':
        return this.objectInfo(body);
      case 'POST /api/dataset_snapshot/get':
        return [];
      case 'POST /local/seed': {
        const dir = str(body.dir);
        if (!dir) throw new HttpError(400, 'dir is required');
        try {
          return await seedFromSyncDir(store, dir, str(body.projectName) ? { projectName: str(body.projectName)! } : {});
        } catch (e) {
          throw new HttpError(400, (e as Error).message);
        }
      }
      default:
        break;
    }
    let m = /^\/v1\/(project|experiment|dataset|function)\/([^/]+)$/.exec(path);
    if (m && method === 'GET') {
      const id = decodeURIComponent(m[2]!);
      const kind = m[1]!;
      const found =
        kind === 'project'
          ? (await store.listProjects({ ids: [id] }))[0]
          : kind === 'experiment'
            ? ((e) => (e ? experimentOut(e) : undefined))(await store.getExperiment(id))
            : kind === 'dataset'
              ? ((d) => (d ? datasetOut(d) : undefined))(await store.getDataset(id))
              : (await store.listFunctions({ ids: [id] }))[0];
      if (!found) throw new HttpError(404, `${kind} ${id} not found`);
      return found;
    }
    // The Python SDK's eval summary: the same comparison as /experiment-comparison2, against the given
    // comparison experiment, else the experiment's stored base experiment.
    m = /^\/v1\/experiment\/([^/]+)\/summarize$/.exec(path);
    if (m && method === 'GET') {
      const e = await store.getExperiment(decodeURIComponent(m[1]!));
      if (!e) throw new HttpError(404, `experiment ${m[1]} not found`);
      const project = (await store.listProjects({ ids: [e.project_id] }))[0];
      const earlier = (await store.listExperiments({ projectId: e.project_id })).find((x) => x.id !== e.id && String(x.created) < String(e.created));
      const baseId = qs.get('comparison_experiment_id') || e.base_exp_id || earlier?.id || undefined;
      const base = baseId ? await store.getExperiment(baseId) : undefined;
      if (baseId && !base) throw new HttpError(400, `comparison experiment ${baseId} not found`);
      const wantScores = qs.get('summarize_scores') !== 'false';
      const cmp = wantScores ? await experimentComparison(store, e.id, base?.id) : { scores: {}, metrics: {} };
      // The Python SDK requires every field of a summary, with null/0 when there is nothing to compare with.
      const full = <T extends object>(x: T) => ({ diff: null, improvements: 0, regressions: 0, ...x });
      return {
        project_name: project?.name ?? null,
        experiment_name: e.name,
        comparison_experiment_name: base?.name ?? null,
        scores: Object.fromEntries(Object.entries(cmp.scores).map(([k, v]) => [k, full(v)])),
        metrics: Object.fromEntries(Object.entries(cmp.metrics).map(([k, v]) => [k, full(v)])),
      };
    }
    // The Python SDK reads a dataset's rows (`init_dataset(...)` iteration) through the REST fetch route:
    // `{limit, cursor}` in, `{events, cursor}` out, paged like /btql.
    m = /^\/v1\/dataset\/([^/]+)\/fetch$/.exec(path);
    if (m && (method === 'POST' || method === 'GET')) {
      const id = decodeURIComponent(m[1]!);
      if (!(await store.getDataset(id))) throw new HttpError(404, `dataset ${id} not found`);
      const limit = Math.max(1, Math.min(1000, Math.floor(Number(body.limit ?? qs.get('limit') ?? 1000)) || 1000));
      const cursor = str(body.cursor) ?? qs.get('cursor') ?? undefined;
      const q = `select: * | from: dataset(${JSON.stringify(id)}) | limit: ${limit}${cursor ? ` | cursor: ${JSON.stringify(cursor)}` : ''}`;
      const res = await runBtql(store, { query: q }, (this.cfg.now ?? (() => new Date()))());
      return { events: res.data, cursor: res.cursor ?? null };
    }
    m = /^\/v1\/function\/([^/]+)\/invoke$/.exec(path);
    if (m) throw new HttpError(400, 'function invoke is not supported locally: the local Braintrust server stores functions but does not execute them');
    throw new HttpError(404, `no route for ${method} ${path}`);
  }

  // ---------------------------------------------------------------- helpers
  private async projectFrom(body: Json, create: boolean): Promise<ProjectRec> {
    const id = str(body.project_id);
    if (id) {
      const p = (await this.cfg.store.listProjects({ ids: [id] }))[0];
      if (!p) throw new HttpError(404, `project ${id} not found`);
      return p;
    }
    const name = str(body.project_name);
    if (!name) throw new HttpError(400, 'project_name or project_id is required');
    if (create) return this.cfg.store.ensureProject(name);
    const p = (await this.cfg.store.listProjects({ name }))[0];
    if (!p) throw new HttpError(404, `project '${name}' not found`);
    return p;
  }

  private async projectIdFrom(body: Json): Promise<string> {
    return (await this.projectFrom(body, false)).id;
  }

  /** Project id from query-string filters, or null when none is given; undefined when it names no project. */
  private async projectFilter(qs: URLSearchParams): Promise<string | null | undefined> {
    const id = qs.get('project_id');
    if (id) return id;
    const name = qs.get('project_name');
    if (name) return (await this.cfg.store.listProjects({ name }))[0]?.id;
    return null;
  }

  private async getProjects(qs: URLSearchParams): Promise<unknown> {
    const name = qs.get('project_name') ?? qs.get('name') ?? undefined;
    const ids = qs.getAll('ids').flatMap((s) => s.split(',')).filter(Boolean);
    const id = qs.get('id');
    const objects = await this.cfg.store.listProjects({
      ...(name ? { name } : {}),
      ...(ids.length ? { ids } : id ? { ids: [id] } : {}),
    });
    return { objects };
  }

  private async findExperiments(qs: URLSearchParams): Promise<ExperimentRec[]> {
    const pid = await this.projectFilter(qs);
    if (pid === undefined) return [];
    const name = qs.get('experiment_name') ?? qs.get('name') ?? undefined;
    const ids = qs.getAll('ids').flatMap((s) => s.split(',')).filter(Boolean);
    let list = await this.cfg.store.listExperiments({ ...(pid ? { projectId: pid } : {}), ...(name ? { name } : {}), ...(ids.length ? { ids } : {}) });
    const limit = Number(qs.get('limit'));
    if (limit > 0) list = list.slice(0, limit);
    return list;
  }

  private async findDatasets(qs: URLSearchParams): Promise<DatasetRec[]> {
    const pid = await this.projectFilter(qs);
    if (pid === undefined) return [];
    const name = qs.get('dataset_name') ?? qs.get('name') ?? undefined;
    const ids = qs.getAll('ids').flatMap((s) => s.split(',')).filter(Boolean);
    return this.cfg.store.listDatasets({ ...(pid ? { projectId: pid } : {}), ...(name ? { name } : {}), ...(ids.length ? { ids } : {}) });
  }

  private async findFunctions(qs: URLSearchParams): Promise<Rec[]> {
    const pid = await this.projectFilter(qs);
    if (pid === undefined) return [];
    const ids = qs.getAll('ids').flatMap((s) => s.split(',')).filter(Boolean);
    const slug = qs.get('slug') ?? undefined;
    const name = qs.get('function_name') ?? undefined;
    const functionType = qs.get('function_type') ?? undefined;
    return this.cfg.store.listFunctions({
      ...(pid ? { projectId: pid } : {}),
      ...(ids.length ? { ids } : {}),
      ...(slug ? { slug } : {}),
      ...(name ? { name } : {}),
      ...(functionType ? { functionType } : {}),
    });
  }

  private async createExperiment(body: Json): Promise<ExperimentRec> {
    const store = this.cfg.store;
    const projectId = await this.projectIdFrom(body);
    const wanted = str(body.name) ?? `experiment-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    if (body.ensure_new === false) {
      const existing = (await store.listExperiments({ projectId, name: wanted }))[0];
      if (existing) return existing;
    }
    return store.createExperiment({
      project_id: projectId,
      name: await store.uniqueExperimentName(projectId, wanted),
      description: str(body.description) ?? null,
      dataset_id: str(body.dataset_id) ?? null,
      dataset_version: str(body.dataset_version) ?? null,
      base_exp_id: str(body.base_exp_id) ?? null,
      public: body.public === true,
      tags: Array.isArray(body.tags) ? (body.tags as string[]) : null,
      metadata: (body.metadata as Record<string, unknown> | undefined) ?? null,
      ...(typeof body.id === 'string' ? { id: body.id } : {}),
    });
  }

  private async registerExperiment(body: Json): Promise<unknown> {
    const store = this.cfg.store;
    const project = await this.projectFrom(body, true);
    const requested = str(body.experiment_name);
    if (requested && body.update === true) {
      const existing = (await store.listExperiments({ projectId: project.id, name: requested }))[0];
      if (existing) return { project, experiment: experimentOut(existing) };
    }
    const repo = (body.repo_info ?? null) as Record<string, unknown> | null;
    let baseId: string | undefined;
    if (str(body.base_exp_id)) {
      const b = await store.getExperiment(str(body.base_exp_id)!);
      if (!b) throw new HttpError(400, `base experiment ${String(body.base_exp_id)} not found`);
      baseId = b.id;
    } else if (str(body.base_experiment)) {
      const b = (await store.listExperiments({ projectId: project.id, name: str(body.base_experiment)! }))[0];
      if (!b) throw new HttpError(400, `base experiment '${String(body.base_experiment)}' not found`);
      baseId = b.id;
    } else {
      baseId = (await store.listExperiments({ projectId: project.id }))[0]?.id;
    }
    const branch = repo && typeof repo.branch === 'string' ? repo.branch : 'experiment';
    const name = await store.uniqueExperimentName(
      project.id,
      requested ?? `${branch}-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}`,
    );
    const e = await store.createExperiment({
      project_id: project.id,
      name,
      description: str(body.description) ?? null,
      dataset_id: str(body.dataset_id) ?? null,
      dataset_version: body.dataset_version !== undefined && body.dataset_version !== null ? String(body.dataset_version) : null,
      base_exp_id: baseId ?? null,
      commit: repo && typeof repo.commit === 'string' ? repo.commit : null,
      public: body.public === true,
      tags: Array.isArray(body.tags) ? (body.tags as string[]) : null,
      metadata: (body.metadata as Record<string, unknown> | undefined) ?? null,
      repo_info: repo,
    });
    return { project, experiment: experimentOut(e) };
  }

  private async getExperimentsApi(body: Json): Promise<unknown> {
    const store = this.cfg.store;
    let projectId = str(body.project_id);
    if (!projectId && str(body.project_name)) projectId = (await store.listProjects({ name: str(body.project_name)! }))[0]?.id;
    if (!projectId) return [];
    const name = str(body.experiment_name);
    return (await store.listExperiments({ projectId, ...(name ? { name } : {}) })).map(experimentOut);
  }

  private async objectInfo(body: Json): Promise<unknown> {
    const store = this.cfg.store;
    const ids = Array.isArray(body.object_ids) ? body.object_ids.filter((x): x is string => typeof x === 'string') : [];
    const type = str(body.object_type);
    const out: Json[] = [];
    for (const id of ids) {
      const obj = type === 'experiment' ? await store.getExperiment(id) : type === 'dataset' ? await store.getDataset(id) : undefined;
      if (!obj) continue;
      const p = (await store.listProjects({ ids: [obj.project_id] }))[0];
      out.push({
        object_id: obj.id,
        object_name: obj.name,
        object_type: type,
        parent_cols: { project: { id: obj.project_id, name: p?.name ?? obj.project_id }, organization: { id: store.orgId, name: this.cfg.orgName } },
        permissions: ['read', 'update', 'create', 'delete'],
        ...(type === 'dataset' ? datasetOut(obj as DatasetRec) : experimentOut(obj as ExperimentRec)),
      });
    }
    return out;
  }

  private async logs3(body: Json): Promise<unknown> {
    const rows = body.rows;
    if (!Array.isArray(rows)) {
      if (rows && typeof rows === 'object') throw new HttpError(400, 'logs3 overflow uploads are not supported locally');
      throw new HttpError(400, 'rows must be an array');
    }
    const r = await ingestRows(this.cfg.store, rows as Rec[]);
    return { ids: (rows as Rec[]).map((x) => x?.id ?? null), written: r.written };
  }

  /**
   * `POST /v1/function` (the REST API, as the Braintrust UI and SDKs create functions): the body is one function with
   * `project_id`; a function with the same slug in the project is returned unmodified, as the service documents.
   */
  private async createFunction(body: Json): Promise<unknown> {
    const projectId = str(body.project_id);
    if (!projectId) throw new HttpError(400, 'project_id is required');
    if (!(await this.cfg.store.listProjects({ ids: [projectId] }))[0]) throw new HttpError(404, `project ${projectId} not found`);
    const problem = functionProblem(body as Rec);
    if (problem) throw new HttpError(400, problem);
    const data = (body.function_data as Rec).data as Rec | undefined;
    if (data?.type === 'bundle' && !(await this.cfg.store.hasBundle(String(data.bundle_id)))) throw new HttpError(400, `bundle ${String(data.bundle_id)} was not uploaded`);
    const slug = str(body.slug)!;
    const existing = (await this.cfg.store.listFunctions({ projectId, slug }))[0];
    if (existing) return existing;
    const { id: _ignoredId, if_exists: _ignoredMode, ...fields } = body as Rec;
    const r = await this.cfg.store.upsertFunctions([{ ...fields, project_id: projectId, if_exists: 'error' }]);
    if (r.errors.length) throw new HttpError(409, r.errors.join('; '), 'Conflict');
    return (await this.cfg.store.listFunctions({ projectId, slug }))[0];
  }

  private async insertFunctions(body: Json): Promise<unknown> {
    const fns = body.functions;
    if (!Array.isArray(fns)) throw new HttpError(400, 'functions must be an array');
    for (const f of fns as Rec[]) {
      if (!str(f.project_id)) {
        const name = str(f.project_name);
        if (!name) throw new HttpError(400, 'each function needs project_id');
        f.project_id = (await this.cfg.store.ensureProject(name)).id;
      }
      const problem = functionProblem(f);
      if (problem) throw new HttpError(400, `function ${str(f.slug) ?? ''}: ${problem}`);
      const data = f.function_data as Rec | undefined;
      const inner = data?.data as Rec | undefined;
      const bundleId = inner && typeof inner.bundle_id === 'string' ? inner.bundle_id : undefined;
      if (bundleId && !(await this.cfg.store.hasBundle(bundleId))) throw new HttpError(400, `bundle ${bundleId} was not uploaded`);
    }
    const r = await this.cfg.store.upsertFunctions(fns as Rec[]);
    if (r.errors.length) throw new HttpError(409, r.errors.join('; '), 'Conflict');
    return { ignored_count: r.ignored };
  }
}
