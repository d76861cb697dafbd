// What every broker fixture offers for setting up callers: registering clients and minting tokens.
import type { Credentials, TokenBody } from './broker.ts';

export interface ClientFixture {
  /** Registers a client through the admin API and returns its one-time credentials. */
  client(input: Record<string, unknown>): Promise<Credentials>;
  /** An agent (groups as given, default writers) and a resource client (default the CRM). */
  clients(opts?: {
    groups?: string[];
    resources?: string[];
  }): Promise<{ agent: Credentials; resource: Credentials }>;
  /** client_credentials with `details`; throws unless 200. */
  mint(agent: Credentials, details: unknown[]): Promise<TokenBody>;
}
