// Reads config/mandate.yaml, overlays MANDATE_* env, validates; one readable error for every issue.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { authSettingsProblem } from '../domain/client.ts';
import { jwksUriProblem } from '../domain/key-source.ts';
import { receiverUrlProblem } from '../domain/receiver-target.ts';
import { type Config, ConfigSchema } from './schema.ts';

export const DEFAULT_CONFIG_PATH = 'config/mandate.yaml';

/** Bad configuration: the message names the file and every failing field. Exit code 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Env variables that override a config field, with the field's path. */
const ENV_FIELDS: ReadonlyArray<{ env: string; path: [string, string]; kind: 'string' | 'int' }> = [
  { env: 'MANDATE_HOST', path: ['server', 'host'], kind: 'string' },
  { env: 'MANDATE_PORT', path: ['server', 'port'], kind: 'int' },
  { env: 'MANDATE_ISSUER', path: ['server', 'issuer'], kind: 'string' },
  { env: 'MANDATE_ADMIN_TOKEN', path: ['admin', 'token'], kind: 'string' },
  { env: 'MANDATE_REDIS_PREFIX', path: ['redis', 'prefix'], kind: 'string' },
  { env: 'REDIS_URL', path: ['redis', 'url'], kind: 'string' },
  { env: 'MANDATE_REDIS_MIN_REPLICAS_ACK', path: ['redis', 'min_replicas_ack'], kind: 'int' },
  {
    env: 'MANDATE_REDIS_REPLICA_ACK_TIMEOUT_MS',
    path: ['redis', 'replica_ack_timeout_ms'],
    kind: 'int',
  },
  { env: 'MANDATE_WORKER_METRICS_PORT', path: ['worker', 'metrics_port'], kind: 'int' },
  { env: 'MANDATE_WORKER_METRICS_HOST', path: ['worker', 'metrics_host'], kind: 'string' },
];

export interface LoadedConfig {
  readonly config: Config;
  /** The file read, or undefined when none was found at the default path. */
  readonly file: string | undefined;
  /** Issuer URL with defaults applied (no trailing slash). */
  readonly issuer: string;
  /** Where each env-set field came from, for messages. */
  readonly fromEnv: ReadonlySet<string>;
}

/** Loads and validates the configuration. Throws ConfigError naming the file and fields. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): LoadedConfig {
  const explicit = env.MANDATE_CONFIG;
  const path = resolve(cwd, explicit ?? DEFAULT_CONFIG_PATH);
  let raw: unknown = {};
  let file: string | undefined;
  if (existsSync(path)) {
    file = path;
    try {
      raw = parseYaml(readFileSync(path, 'utf8')) ?? {};
    } catch (err) {
      throw new ConfigError(`config error in ${path}: not valid YAML: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigError(`config error in ${path}: the top level must be a mapping`);
  } else if (explicit) {
    throw new ConfigError(`config error: MANDATE_CONFIG names ${path}, which does not exist`);
  }

  const merged = structuredClone(raw) as Record<string, Record<string, unknown>>;
  const fromEnv = new Set<string>();
  for (const {
    env: name,
    path: [section, key],
    kind,
  } of ENV_FIELDS) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    merged[section] ??= {};
    const target = merged[section];
    if (kind === 'int') {
      if (!/^\d+$/.test(value))
        throw new ConfigError(
          `config error in env ${name}: must be a whole number, got "${value}"`,
        );
      target[key] = Number(value);
    } else {
      target[key] = value;
    }
    fromEnv.add(`${section}.${key}=${name}`);
  }

  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success)
    throw new ConfigError(formatIssues(parsed.error.issues, file ?? '(defaults)', fromEnv));
  const config = parsed.data;
  const issuer = (
    config.server.issuer ?? `http://${hostForUrl(config.server.host)}:${config.server.port}`
  ).replace(/\/+$/, '');
  checkCrossFields(config, file ?? '(defaults)');
  return { config, file, issuer, fromEnv };
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function checkCrossFields(config: Config, file: string): void {
  const problems: string[] = [];
  if (config.tokens.grant_ttl > config.tokens.max_grant_ttl)
    problems.push('tokens.grant_ttl: must not exceed tokens.max_grant_ttl');
  // Node refuses to create a server whose header timeout outlasts its request timeout.
  if (config.server.headers_timeout_ms > config.server.request_timeout_ms)
    problems.push('server.headers_timeout_ms: must not exceed server.request_timeout_ms');
  const ids = new Set<string>();
  config.clients.forEach((c, i) => {
    if (ids.has(c.client_id))
      problems.push(`clients.${i}.client_id: "${c.client_id}" is listed twice`);
    ids.add(c.client_id);
    if (c.client_secret && c.client_secret_hash)
      problems.push(`clients.${i}: give client_secret or client_secret_hash, not both`);
    const secretless =
      c.token_endpoint_auth_method === 'private_key_jwt' || c.token_endpoint_auth_method === 'none';
    if (!secretless && !c.client_secret && !c.client_secret_hash) {
      problems.push(`clients.${i}: needs client_secret_hash (or client_secret in development)`);
    }
    if (c.kind === 'resource' && c.resources.length === 0)
      problems.push(`clients.${i}.resources: a resource client must serve at least one resource`);
    if (c.kind !== 'resource' && c.actions?.length)
      problems.push(`clients.${i}.actions: only resource clients serve actions`);
    const auth = authSettingsProblem(c);
    if (auth) problems.push(`clients.${i}.${auth.path}: ${auth.message}`);
    if (secretless && (c.client_secret || c.client_secret_hash))
      problems.push(`clients.${i}: a ${c.token_endpoint_auth_method} client has no secret`);
    const uri = c.jwks_uri && jwksUriProblem(c.jwks_uri, config.federation.allow_http_loopback);
    if (uri) problems.push(`clients.${i}.jwks_uri: ${uri}`);
  });
  config.federation.issuers.forEach((t, i) => {
    const uri = t.jwks_uri && jwksUriProblem(t.jwks_uri, config.federation.allow_http_loopback);
    if (uri) problems.push(`federation.issuers.${i}.jwks_uri: ${uri}`);
  });
  const targets = {
    allowHttp: config.caep.allow_http,
    allowPrivateTargets: config.caep.allow_private_targets,
  };
  config.receivers.forEach((r, i) => {
    const problem = receiverUrlProblem(r.url, targets);
    if (problem) problems.push(`receivers.${i}.url: ${problem}`);
  });
  const notifyTargets = {
    allowHttp: config.approvals.notify_allow_http,
    allowPrivateTargets: config.approvals.notify_allow_private_targets,
  };
  config.approvals.notify.forEach((t, i) => {
    const problem = receiverUrlProblem(t.url, notifyTargets);
    if (problem) problems.push(`approvals.notify.${i}.url: ${problem}`);
  });
  if (problems.length)
    throw new ConfigError(`config error in ${file}:\n  ${problems.join('\n  ')}`);
}

function formatIssues(
  issues: z.core.$ZodIssue[],
  file: string,
  fromEnv: ReadonlySet<string>,
): string {
  const lines = issues.map((issue) => {
    const field = issue.path.join('.') || '(top level)';
    const env = [...fromEnv].find((e) => e.startsWith(`${field}=`))?.split('=')[1];
    return `${field}${env ? ` (from env ${env})` : ''}: ${issue.message}`;
  });
  return `config error in ${file}:\n  ${lines.join('\n  ')}`;
}
