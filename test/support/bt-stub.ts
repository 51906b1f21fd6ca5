/**
 * A loopback stub of the Braintrust HTTP API, speaking the protocol the real `bt` 0.12.0 binary
 * uses (see shared/reference/bt-cli.md §2, §4 and §8). It keeps a small in-memory state (one org,
 * projects, experiments, datasets with rows, functions, canned BTQL rows), logs every request, and
 * lets each test override a route's status, body or delay.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StubRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body, or the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
}

export interface StubResponse {
  status?: number;
  /** Objects are sent as JSON; strings are sent verbatim. */
  body?: unknown;
  delayMs?: number;
}

export type StubRoute = StubResponse | ((req: StubRequest, stub: BtStub) => StubResponse | Promise<StubResponse>);

export type Row = Record<string, unknown>;

export interface StubProject {
  id: string;
  name: string;
  org_id: string;
  description: string | null;
}

export interface StubDataset {
  id: string;
  name: string;
  project_id: string;
  description: string | null;
  created: string;
  created_at: string;
  metadata: Record<string, unknown> | null;
}

export interface StubState {
  org: { id: string; name: string };
  projects: StubProject[];
  experiments: Row[];
  datasets: StubDataset[];
  /** dataset id → row id → row */
  datasetRows: Map<string, Map<string, Row>>;
  functions: Row[];
  /** Rows served for BTQL queries over project_logs/experiments (filtered by `root_span_id =` / `id =`). */
  spans: Row[];
}

export const STUB_API_KEY = 'sk-stub-test-key';
const ORG_ID = '00000000-0000-4000-8000-00000000000a';
export const STUB_PROJECT_ID = '00000000-0000-4000-8000-0000000000b1';
export const STUB_EXPERIMENT_ID = '00000000-0000-4000-8000-0000000000e1';

const BTQL_SCHEMA = { type: 'array', items: { type: 'object', properties: {} } };

function defaultState(): StubState {
  const created = '2026-01-02T03:04:05.000Z';
  return {
    org: { id: ORG_ID, name: 'stub-org' },
    projects: [{ id: STUB_PROJECT_ID, name: 'flywheel', org_id: ORG_ID, description: 'stub project' }],
    experiments: [
      {
        id: STUB_EXPERIMENT_ID,
        name: 'baseline-1',
        project_id: STUB_PROJECT_ID,
        public: false,
        description: null,
        created,
        dataset_id: null,
        dataset_version: null,
        base_exp_id: null,
        commit: 'abc1234',
        user_id: 'u1',
        tags: ['nightly'],
        metadata: { model: 'x' },
      },
    ],
    datasets: [],
    datasetRows: new Map(),
    functions: [
      {
        id: '00000000-0000-4000-8000-0000000000f1',
        name: 'Exact',
        slug: 'exact',
        project_id: STUB_PROJECT_ID,
        description: null,
        function_type: 'scorer',
        prompt_data: null,
        function_data: { type: 'code' },
        tags: null,
        metadata: null,
        created,
        _xact_id: '1000192',
      },
    ],
    spans: [
      {
        id: 'r1',
        span_id: 's1',
        root_span_id: 's1',
        is_root: true,
        created,
        _xact_id: '1000001',
        _pagination_key: 'p1',
        input: { q: '2+2' },
        output: '4',
        scores: { acc: 1 },
        metrics: { start: 1, end: 2 },
        span_attributes: { name: 'root', type: 'task' },
      },
      {
        id: 'r2',
        span_id: 's2',
        root_span_id: 's1',
        span_parents: ['s1'],
        is_root: false,
        created,
        _xact_id: '1000002',
        _pagination_key: 'p2',
        input: 'child',
        output: 'child-out',
        span_attributes: { name: 'llm', type: 'llm' },
      },
    ],
  };
}

export class BtStub {
  readonly requests: StubRequest[] = [];
  state: StubState = defaultState();
  private readonly overrides = new Map<string, StubRoute>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<BtStub> {
    let stub: BtStub | undefined;
    const server = createServer((req, res) => {
      void stub!.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    stub = new BtStub(server, `http://127.0.0.1:${port}`);
    return stub;
  }

  /** Environment for the bt child process: stub URLs, key, and a private HOME/XDG. */
  env(home: string, overrides: Record<string, string> = {}): Record<string, string> {
    return {
      BRAINTRUST_API_KEY: STUB_API_KEY,
      BRAINTRUST_APP_URL: this.url,
      BRAINTRUST_API_URL: this.url,
      HOME: home,
      XDG_CONFIG_HOME: `${home}/.config`,
      XDG_CACHE_HOME: `${home}/.cache`,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...overrides,
    };
  }

  /** Override a route until `reset()`. `path` is the URL path without the query string. */
  on(method: string, path: string, route: StubRoute): void {
    this.overrides.set(`${method.toUpperCase()} ${path}`, route);
  }

  reset(): void {
    this.overrides.clear();
    this.requests.length = 0;
    this.state = defaultState();
  }

  requestsTo(method: string, path: string): StubRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const url = new URL(req.url ?? '/', this.url);
    const request: StubRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
    };
    this.requests.push(request);

    let response: StubResponse;
    try {
      const route = this.overrides.get(`${request.method} ${request.path}`);
      if (route === undefined) response = this.defaultRoute(request);
      else response = typeof route === 'function' ? await route(request, this) : route;
    } catch (err) {
      response = { status: 500, body: { error: String(err) } };
    }

    if (response.delayMs) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.timers.delete(t);
          resolve();
        }, response.delayMs);
        this.timers.add(t);
      });
    }
    if (res.destroyed) return;
    const status = response.status ?? 200;
    const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body ?? {});
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(text);
  }

  private authorized(req: StubRequest): boolean {
    return req.headers.authorization === `Bearer ${STUB_API_KEY}`;
  }

  private projectByQuery(q: URLSearchParams): StubProject[] {
    const name = q.get('project_name') ?? q.get('name');
    const id = q.get('project_id');
    return this.state.projects.filter((p) => (name === null || p.name === name || p.id === name) && (id === null || p.id === id));
  }

  private defaultRoute(req: StubRequest): StubResponse {
    const key = `${req.method} ${req.path}`;
    // Signed bundle upload URLs (from /function/code) carry no Authorization header.
    if (req.method === 'PUT' && req.path.startsWith('/upload/')) return { body: {} };
    if (!this.authorized(req)) return { status: 401, body: { Code: 'Unauthorized', Message: 'Invalid API key' } };
    const s = this.state;
    switch (key) {
      case 'POST /api/apikey/login':
        return { body: { org_info: [{ id: s.org.id, name: s.org.name }] } };
      case 'POST /api/ai_secret/get':
        return { status: 404, body: {} };
      case 'GET /v1/project':
        return { body: { objects: this.projectByQuery(req.query) } };
      case 'POST /v1/project': {
        const b = req.body as { name: string };
        const p = { id: randomUUID(), name: b.name, org_id: s.org.id, description: null };
        s.projects.push(p);
        return { body: p };
      }
      case 'GET /v1/experiment': {
        const projects = this.projectByQuery(req.query);
        const name = req.query.get('experiment_name');
        const objects = s.experiments.filter(
          (e) => projects.some((p) => p.id === e.project_id) && (name === null || e.name === name),
        );
        return { body: { objects } };
      }
      case 'GET /v1/dataset': {
        const pid = req.query.get('project_id');
        return { body: { objects: s.datasets.filter((d) => pid === null || d.project_id === pid) } };
      }
      case 'POST /v1/dataset': {
        const b = req.body as { name: string; project_id: string; description?: string };
        const now = new Date().toISOString();
        const d: StubDataset = {
          id: randomUUID(),
          name: b.name,
          project_id: b.project_id,
          description: b.description ?? null,
          created: now,
          created_at: now,
          metadata: null,
        };
        s.datasets.push(d);
        s.datasetRows.set(d.id, new Map());
        return { body: d };
      }
      case 'GET /version':
        return { body: {} };
      case 'POST /logs3':
        return this.logs3(req.body as { rows?: Row[] });
      case 'POST /btql':
        return this.btql(req.body as { query: unknown });
      case 'GET /v1/function': {
        const ids = req.query.getAll('ids');
        return { body: { objects: s.functions.filter((f) => ids.includes(String(f.id))) } };
      }
      case 'POST /function/code': {
        const bundleId = randomUUID();
        return { body: { url: `${this.url}/upload/${bundleId}`, bundleId } };
      }
      case 'POST /insert-functions': {
        const fns = (req.body as { functions?: Row[] }).functions ?? [];
        for (const f of fns) {
          s.functions = s.functions.filter((x) => !(x.slug === f.slug && x.project_id === f.project_id));
          s.functions.push({ id: randomUUID(), created: new Date().toISOString(), _xact_id: '1000300', ...f });
        }
        return { body: {} };
      }
      case 'POST /function/invoke':
        return { body: { echoed: (req.body as { input?: unknown }).input ?? null } };
      default:
        return { status: 404, body: { Code: 'NotFound', Message: `no stub route for ${key}` } };
    }
  }

  private logs3(body: { rows?: Row[] }): StubResponse {
    for (const row of body.rows ?? []) {
      const datasetId = row.dataset_id;
      if (typeof datasetId !== 'string') continue;
      const rows = this.state.datasetRows.get(datasetId) ?? new Map<string, Row>();
      this.state.datasetRows.set(datasetId, rows);
      const { _is_merge: merge, ...clean } = row;
      const id = String(clean.id);
      const prev = rows.get(id);
      rows.set(id, merge && prev ? { ...prev, ...clean } : clean);
    }
    return { body: {} };
  }

  private btql(body: { query: unknown }): StubResponse {
    const q = body.query;
    if (typeof q !== 'string') {
      // Structured query from `datasets view`: find the dataset by its id inside the expression.
      const text = JSON.stringify(q);
      const dataset = this.state.datasets.find((d) => text.includes(d.id));
      const rows = dataset ? [...(this.state.datasetRows.get(dataset.id)?.values() ?? [])] : [];
      const data = rows.map((r) => ({
        id: r.id,
        input: r.input ?? null,
        expected: r.expected ?? null,
        metadata: r.metadata ?? null,
        tags: r.tags ?? null,
        origin: r.origin ?? null,
      }));
      return { body: { data, schema: BTQL_SCHEMA, cursor: null } };
    }
    if (q.includes('project_functions(')) {
      const slug = /slug = '([^']*)'/.exec(q)?.[1];
      const type = /function_type = '([^']*)'/.exec(q)?.[1];
      const data = this.state.functions.filter(
        (f) => (slug === undefined || f.slug === slug) && (type === undefined || f.function_type === type),
      );
      return { body: { data, schema: BTQL_SCHEMA } };
    }
    let data = this.state.spans;
    const rootMatch = /root_span_id = '([^']*)'/.exec(q);
    const idMatch = /(?:^|[^_])id = '([^']*)'/.exec(q);
    if (rootMatch) data = data.filter((r) => r.root_span_id === rootMatch[1]);
    else if (idMatch) data = data.filter((r) => r.id === idMatch[1]);
    return { body: { data, schema: BTQL_SCHEMA, cursor: null } };
  }
}

// --- helpers for bt contract tests ------------------------------------------------------------------

/** A private HOME (for bt's config and auth files) and a cwd with no `.bt/` above it. */
export function tempBtDirs(): { home: string; cwd: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'bt-client-'));
  const home = join(root, 'home');
  const cwd = join(root, 'work');
  mkdirSync(home);
  mkdirSync(cwd);
  return { home, cwd, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Pids of live processes whose command line contains `marker` (reads /proc; Linux only). */
export function livePidsWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Zombies (state Z) are dead; they only wait to be reaped.
      if (cmdline.includes(marker) && !/^\d+ \(.*\) Z/.test(stat)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}
