// An MCP client a person signs in to (tests and the demo): the official SDK's OAuthClientProvider, with the browser step driven over HTTP and a real loopback listener catching the redirect.
import { createServer, type Server } from 'node:http';
import {
  type OAuthClientProvider,
  UnauthorizedError,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { freePort } from '../bench/free-port.ts';
import { answerConsent, CookieJar, signInUpstream } from './browser-steps.ts';

/** A real loopback listener at `/callback`: what a desktop MCP client runs to catch the redirect. */
export async function startRedirectListener(): Promise<{
  readonly redirectUrl: string;
  next(): Promise<URL>;
  close(): void;
}> {
  const port = await freePort();
  let deliver: ((url: URL) => void) | undefined;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
    deliver?.(url);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    redirectUrl: `http://127.0.0.1:${port}/callback`,
    next: () =>
      new Promise<URL>((resolve) => {
        deliver = resolve;
      }),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * The smallest OAuthClientProvider a desktop MCP client writes; `redirectToAuthorization` is the
 * browser: it signs in upstream as `person`, approves Mandate's consent page and follows the
 * redirect to the loopback listener.
 */
export class BrowserDrivenProvider implements OAuthClientProvider {
  saved: OAuthTokens | undefined;
  info: OAuthClientInformationMixed | undefined;
  verifier = '';
  consentHtml = '';
  readonly codes: Promise<URL>;

  constructor(
    private readonly listener: { redirectUrl: string; next(): Promise<URL> },
    private readonly person: string,
    readonly clientMetadataUrl: string | undefined,
    preRegistered: string | undefined,
  ) {
    this.info = preRegistered ? { client_id: preRegistered } : undefined;
    this.codes = listener.next();
  }
  get redirectUrl() {
    return this.listener.redirectUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Ticket desk',
      redirect_uris: [this.listener.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(url: URL) {
    const jar = new CookieJar();
    const consent = await signInUpstream(jar, url.href, this.person);
    this.consentHtml = consent.html;
    const approved = await answerConsent(jar, consent, 'approve');
    // The browser follows Mandate's redirect to the client's loopback listener.
    const back = await fetch(approved.headers.get('location') ?? 'about:blank');
    await back.body?.cancel();
  }
}

/**
 * An official SDK client of `endpoint` through the code flow: the first connect is refused and
 * sends the person to sign in (the provider's browser), the code caught at the loopback listener
 * is redeemed (`finishAuth`), and a second connect goes through. Returns it with the `iss` the
 * redirect carried (RFC 9207).
 */
export async function signInAndConnect(
  endpoint: string,
  provider: BrowserDrivenProvider,
): Promise<{ client: Client; iss: string | null }> {
  const first = new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider });
  const refused = await new Client({ name: 'ticket-desk', version: '1.0.0' }).connect(first).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(refused instanceof UnauthorizedError))
    throw new Error(`the first connect was not sent to sign in: ${String(refused)}`);
  const back = await provider.codes;
  await first.finishAuth(back.searchParams.get('code') ?? '');
  const client = new Client({ name: 'ticket-desk', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider }),
  );
  return { client, iss: back.searchParams.get('iss') };
}

/** The consent page as text: what the person was shown. */
export function consentText(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
}
