// What every CLI command shares: I/O, the broker's URL and credentials, and output mode.
import type { Command } from 'commander';
import { basicCredentials } from '../client/basic-credentials.ts';
import { createAssertionSigner, type PrivateKeyInput } from '../client/private-key-jwt.ts';
import { usageError } from './cli-error.ts';
import { type FetchLike, requestBroker } from './request-broker.ts';

/** The CLI's outside world, injected so tests can run commands in-process. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fetch: FetchLike;
  readFile(path: string): Promise<string>;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface CommandContext {
  readonly io: CliIo;
  /** Calls the admin API with the admin token (`--token` / `MANDATE_ADMIN_TOKEN`). */
  admin(cmd: Command, method: Method, path: string, body?: unknown): Promise<unknown>;
  /** Posts a form to an OAuth endpoint with HTTP Basic client credentials (RFC 6749 2.3.1). */
  oauth(
    cmd: Command,
    path: string,
    credentials: ClientCredentials,
    form: URLSearchParams,
  ): Promise<unknown>;
  /** Prints `body` as JSON under `--json`, else the human rendering. */
  print(cmd: Command, body: unknown, human: () => string): void;
}

/** A client secret (sent as HTTP Basic), or a private key file (PEM or JWK) to sign a client assertion with. */
export type ClientCredentials =
  | { readonly clientId: string; readonly clientSecret: string }
  | { readonly clientId: string; readonly privateKeyFile: string };

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Builds the shared context; URL and token are read per command, so `--url` after a subcommand works. */
export function createCommandContext(io: CliIo): CommandContext {
  const baseUrl = (cmd: Command): URL => {
    const raw =
      (cmd.optsWithGlobals().url as string | undefined) ?? io.env.MANDATE_URL ?? DEFAULT_URL;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw usageError(`invalid Mandate URL ${JSON.stringify(raw)} (--url or MANDATE_URL)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw usageError(`Mandate URL must be http(s): ${raw}`);
    return url;
  };

  return {
    io,
    async admin(cmd, method, path, body) {
      const url = baseUrl(cmd);
      const token =
        (cmd.optsWithGlobals().token as string | undefined) ?? io.env.MANDATE_ADMIN_TOKEN;
      if (!token) throw usageError('no admin token: pass --token or set MANDATE_ADMIN_TOKEN');
      return requestBroker(io.fetch, url, { method, path, authorization: `Bearer ${token}`, body });
    },
    async oauth(cmd, path, credentials, form) {
      const url = baseUrl(cmd);
      if ('clientSecret' in credentials) {
        const authorization = basicCredentials(credentials.clientId, credentials.clientSecret);
        return requestBroker(io.fetch, url, { method: 'POST', path, authorization, body: form });
      }
      const sign = createAssertionSigner({
        clientId: credentials.clientId,
        privateKey: readPrivateKey(await io.readFile(credentials.privateKeyFile)),
      });
      // The broker's URL is its issuer (the assertion's audience) unless a proxy says otherwise.
      const audience = url.href.replace(/\/$/, '');
      const signed = new URLSearchParams(form);
      signed.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
      signed.set('client_assertion', await sign(audience));
      return requestBroker(io.fetch, url, { method: 'POST', path, body: signed });
    },
    print(cmd, body, human) {
      io.out(cmd.optsWithGlobals().json ? JSON.stringify(body, null, 2) : human());
    },
  };
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A private key file's text: a JWK (JSON) or PKCS#8 PEM. */
function readPrivateKey(text: string): PrivateKeyInput {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return trimmed;
  try {
    return JSON.parse(trimmed) as PrivateKeyInput;
  } catch {
    throw usageError('the private key file is neither a JWK (JSON) nor PKCS#8 PEM');
  }
}
