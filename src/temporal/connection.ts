/**
 * Where Temporal is: a cluster named by flags / TEMPORAL_* env / a temporal.toml profile
 * (resolved by `@temporalio/envconfig`, the convention shared with the `temporal` CLI), or
 * else the embedded dev server this project starts.
 */
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { DEFAULT_NAMESPACE } from '../shared.js';
import { ensureDevServer, type EnsureDevServerOptions } from './devserver.js';

/** Mirrors the `temporal` CLI flag names. */
export interface TemporalFlags {
  address?: string;
  namespace?: string;
  apiKey?: string;
  profile?: string;
  /** Force TLS on (true) or off (false); default: on when an API key or TLS settings are present. */
  tls?: boolean;
}

export interface ResolveTemporalTargetOptions {
  /** The flywheel home (`flywheelHome()`), where the embedded server keeps its state. */
  home: string;
  env?: NodeJS.ProcessEnv;
  flags?: TemporalFlags;
  /** Passed to `ensureDevServer` when the embedded server is used (port, progress log, timeout). */
  devServer?: Omit<EnsureDevServerOptions, 'env' | 'namespace'>;
}

/** Options accepted by both `Connection.connect` (client) and `NativeConnection.connect` (worker). */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface TemporalTarget {
  connectionOptions: TemporalConnectionOptions;
  namespace: string;
  /** True when the target is the dev server this project started (or reused). */
  embedded: boolean;
  /** The Web UI of the embedded dev server. */
  uiUrl?: string;
  address: string;
  /** Where the settings came from, for messages ("flags", "env", "profile cloud", "embedded dev server"). */
  source: string;
}

/**
 * The cluster the flags / env / config file name (flags > env > file), or the embedded dev
 * server when none is named. A remote target never starts anything.
 */
export async function resolveTemporalTarget(opts: ResolveTemporalTargetOptions): Promise<TemporalTarget> {
  const env = opts.env ?? process.env;
  const remote = resolveRemoteTarget(env, opts.flags ?? {});
  if (remote) return remote;

  const flags = opts.flags ?? {};
  const namespace = flags.namespace ?? nonEmpty(env.TEMPORAL_NAMESPACE) ?? DEFAULT_NAMESPACE;
  const server = await ensureDevServer(opts.home, { ...opts.devServer, env, namespace });
  return {
    connectionOptions: { address: server.address },
    namespace,
    embedded: true,
    ...(server.uiUrl ? { uiUrl: server.uiUrl } : {}),
    address: server.address,
    source: server.managed ? 'embedded dev server' : 'Temporal already running on the default port',
  };
}

/**
 * The remote target, if flags / env / a profile name an address; undefined means "use the embedded
 * server". Pure apart from reading the config file: it never contacts a server.
 */
export function resolveRemoteTarget(env: NodeJS.ProcessEnv, flags: TemporalFlags): TemporalTarget | undefined {
  const envVars = definedEnv(env);
  const profileName = flags.profile ?? nonEmpty(env.TEMPORAL_PROFILE);
  const profile = loadClientConfigProfile({
    ...(profileName ? { profile: profileName } : {}),
    overrideEnvVars: envVars,
  });
  if (flags.address) profile.address = flags.address;
  if (flags.namespace) profile.namespace = flags.namespace;
  if (flags.apiKey) profile.apiKey = flags.apiKey;
  if (flags.tls === false) profile.tls = { ...profile.tls, disabled: true };
  if (flags.tls === true && profile.tls?.disabled) profile.tls = { ...profile.tls, disabled: false };

  if (!profile.address) {
    if (profile.apiKey) {
      throw new Error('A Temporal API key is configured but no address: set TEMPORAL_ADDRESS (or --address, or `address` in the profile).');
    }
    if (profileName) {
      throw new Error(`Temporal profile "${profileName}" has no address; set one (or unset TEMPORAL_PROFILE / --profile to use the embedded dev server).`);
    }
    return undefined;
  }

  const { connectionOptions, namespace } = toClientOptions(profile);
  let tls: TLSConfig | boolean | undefined = connectionOptions.tls ?? undefined;
  if (flags.tls === true && !tls) tls = true;
  const options: TemporalConnectionOptions = { address: profile.address };
  if (tls !== undefined) options.tls = tls;
  if (profile.apiKey) options.apiKey = profile.apiKey;
  if (profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0) options.metadata = profile.grpcMeta;
  return {
    connectionOptions: options,
    namespace: namespace ?? DEFAULT_NAMESPACE,
    embedded: false,
    address: profile.address,
    source: describeSource(env, flags, profileName),
  };
}

function describeSource(env: NodeJS.ProcessEnv, flags: TemporalFlags, profileName: string | undefined): string {
  if (flags.address) return 'flags';
  if (nonEmpty(env.TEMPORAL_ADDRESS)) return 'environment (TEMPORAL_ADDRESS)';
  return `config profile "${profileName ?? 'default'}"`;
}

/** A one-line description safe to log: the API key and metadata values are redacted. */
export function describeTarget(target: TemporalTarget): string {
  const o = target.connectionOptions;
  const parts = [`${target.address}`, `namespace=${target.namespace}`];
  if (target.embedded) parts.push('(embedded dev server)');
  else parts.push(`tls=${o.tls ? 'on' : 'off'}`);
  if (o.apiKey) parts.push('apiKey=<redacted>');
  if (o.metadata) parts.push(`metadata=[${Object.keys(o.metadata).join(',')}]`);
  if (target.uiUrl) parts.push(`ui=${target.uiUrl}`);
  parts.push(`via ${target.source}`);
  return parts.join(' ');
}

/** A client for the target, bound to its namespace (the client otherwise silently uses "default"). */
export async function connectClient(target: TemporalTarget): Promise<Client> {
  // lazy + ensureConnected so a failed connect can still be closed (grpc would keep redialing).
  const connection = Connection.lazy({ ...target.connectionOptions });
  try {
    await connection.ensureConnected();
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
  return new Client({ connection, namespace: target.namespace });
}

/** The native (Rust core) connection a worker polls with. */
export async function connectWorkerConnection(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect({ ...target.connectionOptions });
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
