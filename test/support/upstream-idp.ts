// An upstream OpenID Provider for the person sign-in tests (shared with the demo), and a broker whose people sign in there.
import { startUpstreamIdp, type UpstreamIdp } from '../../scripts/mcp/upstream-idp.ts';
import { admin, type Credentials, type HttpResult } from './broker.ts';
import { freePort } from './redis-server.ts';
import { startTestBroker, type TestBroker } from './test-broker.ts';

export {
  PERSON_GROUPS,
  startUpstreamIdp,
  type UpstreamIdp,
} from '../../scripts/mcp/upstream-idp.ts';

/** A broker whose people sign in at its own upstream IdP, with a policy, one public client and an MCP resource client. */
export interface SignInBroker {
  readonly idp: UpstreamIdp;
  readonly broker: TestBroker;
  readonly resource: Credentials;
  /** What registering the public client answered (it has no secret). */
  readonly registered: HttpResult;
  close(): Promise<void>;
}

/**
 * Starts the IdP first (it must know the broker's callback), then the broker on the port it
 * was told, with `login.oidc` pointing at the IdP; puts `policy`, registers `client` as a
 * public agent and a resource client serving `resource`.
 */
export async function startSignInBroker(opts: {
  name: string;
  policy: string;
  client: { client_id: string; name: string; redirect_uris: string[] };
  resource: string;
  /** More YAML for the config file (after `login:`). */
  extraConfig?: string;
}): Promise<SignInBroker> {
  const port = await freePort();
  // Both redirect URIs: the person sign-in of /oauth/authorize and the console's.
  const idp = await startUpstreamIdp([
    `http://127.0.0.1:${port}/oauth/callback`,
    `http://127.0.0.1:${port}/console/callback`,
  ]);
  const broker = await startTestBroker({
    name: opts.name,
    config: `${idp.loginConfig}${opts.extraConfig ?? ''}`,
    env: { MANDATE_PORT: String(port) },
  });
  const policy = await admin(broker.url, 'PUT', '/admin/policies', { policies: opts.policy });
  if (policy.status !== 200) throw new Error(`policy refused: ${policy.text}`);
  const registered = await admin(broker.url, 'POST', '/admin/clients', {
    ...opts.client,
    kind: 'agent',
    token_endpoint_auth_method: 'none',
  });
  const resource = await broker.client({
    name: 'mcp server',
    kind: 'resource',
    resources: [opts.resource],
  });
  return {
    idp,
    broker,
    resource,
    registered,
    close: async () => {
      await broker.close();
      await idp.close();
    },
  };
}
