// Which Redis Mandate talks to: one server, a Sentinel-watched primary, or a Cluster, read from redis.url or the config keys.

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

interface Credentials {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

export type RedisTopology =
  | { readonly kind: 'single'; readonly url: string }
  | (Credentials & {
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly masterName: string;
      readonly db: number;
    })
  | (Credentials & { readonly kind: 'cluster'; readonly nodes: readonly HostPort[] });

/** The `redis` config section's fields this reads. */
export interface RedisAddressConfig {
  readonly url: string;
  readonly sentinels?: readonly string[] | undefined;
  readonly master_name?: string | undefined;
  readonly cluster_nodes?: readonly string[] | undefined;
}

const SENTINEL_PORT = 26379;
const REDIS_PORT = 6379;
const SENTINEL_SCHEME = 'redis+sentinel:';
const CLUSTER_SCHEME = 'redis+cluster:';

/** `host:port`, `[v6]:port` or a bare host (then `defaultPort`); throws naming `what` on anything else. */
export function parseHostPort(text: string, defaultPort: number, what: string): HostPort {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  const host = m?.[1] ?? m?.[2];
  if (!host || !(port >= 1 && port <= 65535))
    throw new Error(`${what}: "${text}" is not host:port`);
  return { host, port };
}

const dbNumber = (text: string) => {
  if (!/^\d{1,2}$/.test(text) || Number(text) > 15)
    throw new Error(`redis.url: db must be 0..15, not "${text}"`);
  return Number(text);
};

const hostList = (text: string, defaultPort: number, what: string) => {
  const list = text.split(',').filter((s) => s !== '');
  if (list.length === 0) throw new Error(`${what}: no host:port given`);
  if (list.length > 16) throw new Error(`${what}: at most 16 hosts`);
  return list.map((s) => parseHostPort(decodeURIComponent(s), defaultPort, what));
};

/**
 * `redis+sentinel://[user:pass@]host:port[,host:port...]/<master-name>[?db=N]` or
 * `redis+cluster://[user:pass@]host:port[,host:port...]`. WHATWG URL parsing refuses a
 * comma-separated host list, so the authority is split by hand.
 */
function parseMultiHostUrl(
  url: string,
  scheme: string,
): {
  hosts: string;
  path: string;
  query: URLSearchParams;
  username?: string;
  password?: string;
} {
  const rest = url.slice(scheme.length + 2);
  const pathAt = rest.search(/[/?]/);
  const authority = pathAt === -1 ? rest : rest.slice(0, pathAt);
  const tail = pathAt === -1 ? '' : rest.slice(pathAt);
  const [pathPart = '', queryPart = ''] = tail.split('?', 2);
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  const username = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon));
  const password = colon === -1 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
  return {
    hosts: authority.slice(at + 1),
    path: decodeURIComponent(pathPart.replace(/^\//, '').replace(/\/$/, '')),
    query: new URLSearchParams(queryPart),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}

/**
 * The topology the config names. `redis.sentinels` (with `redis.master_name`) or
 * `redis.cluster_nodes` take the place of `redis.url`, which then must be a plain `redis://` URL
 * (its user and password, if any, are used); a `redis+sentinel://` or `redis+cluster://` URL
 * names the topology itself. Throws a message naming the field on anything else.
 */
export function redisTopology(cfg: RedisAddressConfig): RedisTopology {
  const { url } = cfg;
  const sentinels = cfg.sentinels?.length ? cfg.sentinels : undefined;
  const clusterNodes = cfg.cluster_nodes?.length ? cfg.cluster_nodes : undefined;
  if (sentinels && clusterNodes)
    throw new Error('redis.sentinels and redis.cluster_nodes: give one, not both');
  if (cfg.master_name !== undefined && !sentinels)
    throw new Error('redis.master_name: only with redis.sentinels');
  const special = url.startsWith(SENTINEL_SCHEME) || url.startsWith(CLUSTER_SCHEME);
  if (special && (sentinels || clusterNodes))
    throw new Error(
      'redis.url: a redis+sentinel:// or redis+cluster:// URL names the servers itself; drop redis.sentinels / redis.cluster_nodes or use a redis:// URL',
    );
  if (url.startsWith(SENTINEL_SCHEME)) {
    const u = parseMultiHostUrl(url, SENTINEL_SCHEME);
    if (!u.path || u.path.includes('/'))
      throw new Error('redis.url: redis+sentinel:// needs the master name as its path');
    return {
      kind: 'sentinel',
      sentinels: hostList(u.hosts, SENTINEL_PORT, 'redis.url'),
      masterName: u.path,
      db: dbNumber(u.query.get('db') ?? '0'),
      username: u.username,
      password: u.password,
    };
  }
  if (url.startsWith(CLUSTER_SCHEME)) {
    const u = parseMultiHostUrl(url, CLUSTER_SCHEME);
    if (u.path)
      throw new Error('redis.url: redis+cluster:// takes no path (Cluster has db 0 only)');
    return {
      kind: 'cluster',
      nodes: hostList(u.hosts, REDIS_PORT, 'redis.url'),
      username: u.username,
      password: u.password,
    };
  }
  if (!/^rediss?:\/\//.test(url))
    throw new Error(
      'redis.url: expected redis://, rediss://, redis+sentinel:// or redis+cluster://',
    );
  if (!sentinels && !clusterNodes) return { kind: 'single', url };
  const plain = new URL(url);
  const credentials = {
    username: plain.username ? decodeURIComponent(plain.username) : undefined,
    password: plain.password ? decodeURIComponent(plain.password) : undefined,
  };
  if (sentinels) {
    if (!cfg.master_name) throw new Error('redis.master_name: required with redis.sentinels');
    return {
      kind: 'sentinel',
      sentinels: sentinels.map((s) => parseHostPort(s, SENTINEL_PORT, 'redis.sentinels')),
      masterName: cfg.master_name,
      db: dbNumber(plain.pathname.replace('/', '') || '0'),
      ...credentials,
    };
  }
  return {
    kind: 'cluster',
    nodes: (clusterNodes ?? []).map((s) => parseHostPort(s, REDIS_PORT, 'redis.cluster_nodes')),
    ...credentials,
  };
}

/** Where the topology's servers are, for messages: never a password. */
export function describeTopology(t: RedisTopology): string {
  const list = (hosts: readonly HostPort[]) =>
    hosts.map((h) => (h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`));
  if (t.kind === 'sentinel')
    return `Sentinel master "${t.masterName}" via ${list(t.sentinels).join(',')}`;
  if (t.kind === 'cluster') return `Cluster via ${list(t.nodes).join(',')}`;
  try {
    const u = new URL(t.url);
    return `${u.hostname}:${u.port || REDIS_PORT}`;
  } catch {
    return '(unparseable redis.url)';
  }
}
