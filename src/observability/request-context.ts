// What one HTTP request carries through its async work: its id, and the decisions it made (for its log lines).
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface RequestContext {
  readonly requestId: string;
  /** The decisions recorded while serving the request (filled by the decision log lines). */
  readonly decisions: Array<{
    id: string;
    kind: string;
    outcome: string;
    client_id?: string | undefined;
    grant_id?: string | undefined;
    reasons: string[];
  }>;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The request being served, if any (undefined in the worker). */
export const currentRequest = (): RequestContext | undefined => storage.getStore();

/** Runs `fn` as part of the request `id`. */
export function runInRequest<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId, decisions: [] }, fn);
}

/** An incoming X-Request-Id is kept when it is 1 to 128 visible, unreserved characters; else a new one. */
export function requestIdOf(incoming: string | undefined): string {
  return incoming && /^[A-Za-z0-9._:@/+=-]{1,128}$/.test(incoming) ? incoming : randomUUID();
}
