// A resource client's own registration read from Mandate (GET /oauth/clients/{id}, RFC 7592 read), kept for a while: how mandate/mcp learns its tool names.
import { discoverIssuer, type FetchLike } from './discover-issuer.ts';
import type { ResourceCredentials } from './resource-credentials.ts';

/** What the guard uses of its registration. */
export interface OwnRegistration {
  readonly clientId: string;
  /** The actions the client serves (an MCP server's tool names); empty when none are registered. */
  readonly actions: readonly string[];
}

export interface RegistrationReaderOptions {
  readonly issuer: URL;
  readonly clientId: string;
  readonly credentials: ResourceCredentials;
  readonly fetch: FetchLike;
  readonly timeoutMs: number;
  /** How long a registration read is used before it is read again. */
  readonly maxAgeMs: number;
  readonly now: () => number;
}

/** An action name as Mandate registers them (letters, digits, `_ . -`). */
const ACTION_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * A reader of the client's own registration. A read is kept `maxAgeMs`; concurrent callers share
 * one request; when Mandate cannot be read, the last good read is used (and the next call tries
 * again), and without one the call rejects.
 */
export function createRegistrationReader(
  opts: RegistrationReaderOptions,
): () => Promise<OwnRegistration> {
  const url = `${opts.issuer.href.replace(/\/$/, '')}/oauth/clients/${encodeURIComponent(opts.clientId)}`;
  let last: { readonly value: OwnRegistration; readonly atMs: number } | undefined;
  let pending: Promise<OwnRegistration> | undefined;

  const readNow = async (): Promise<OwnRegistration> => {
    const d = await discoverIssuer(opts.issuer, opts.fetch);
    const authorization = await opts.credentials.authorization(d);
    const res = await opts.fetch(url, {
      headers: { authorization, accept: 'application/json' },
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    if (res.status === 401) opts.credentials.refused();
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`reading the client's registration: HTTP ${res.status}`);
    }
    const body = (await res.json()) as { client_id?: unknown; actions?: unknown };
    if (body.client_id !== opts.clientId)
      throw new Error("reading the client's registration: it names another client");
    const actions = Array.isArray(body.actions)
      ? body.actions.filter((a): a is string => typeof a === 'string' && ACTION_NAME.test(a))
      : [];
    return { clientId: opts.clientId, actions };
  };

  return () => {
    const at = opts.now();
    if (last && at - last.atMs < opts.maxAgeMs) return Promise.resolve(last.value);
    pending ??= readNow().then(
      (value) => {
        last = { value, atMs: at };
        pending = undefined;
        return value;
      },
      (err: unknown) => {
        pending = undefined;
        if (last) return last.value;
        throw err;
      },
    );
    return pending;
  };
}
