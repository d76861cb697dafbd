// An MCP server as an OAuth protected resource: its canonical URI, RFC 9728 metadata and the challenges pointing at it.
import { canonicalResource as canonicalUri } from '../domain/resource-uri.ts';
import type { GuardRefusal } from './bearer-challenge.ts';

/** The scope of one tool, as MCP clients ask for it (`tools:<name>`). */
export function toolScope(name: string): string {
  return `tools:${name}`;
}

/**
 * The canonical URI of an MCP server (MCP authorization, RFC 8707): scheme and host lower-cased,
 * the full path without a trailing slash, no fragment. Throws a TypeError for anything else.
 */
export function canonicalResource(uri: string): string {
  if (!URL.canParse(uri)) throw new TypeError('resource must be an absolute URI');
  const url = new URL(uri);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TypeError('resource must be an http(s) URI');
  if (url.hash || url.username || url.password)
    throw new TypeError('resource must have no fragment or credentials');
  // The broker's own rule, so the guard expects exactly the `aud` the broker puts in tokens.
  return canonicalUri(uri);
}

/** Where RFC 9728 puts the metadata of `resource`: the well-known prefix before its path. */
export function metadataPathOf(resource: string): string {
  const { pathname } = new URL(resource);
  return `/.well-known/oauth-protected-resource${pathname === '/' ? '' : pathname}`;
}

/** RFC 9728 protected resource metadata of an MCP server whose tokens come from `issuer`. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported?: readonly string[];
  readonly bearer_methods_supported: readonly string[];
}

export function protectedResourceMetadata(
  resource: string,
  issuer: string,
  tools: readonly string[] | undefined,
): ProtectedResourceMetadata {
  return {
    resource,
    authorization_servers: [issuer],
    ...(tools ? { scopes_supported: tools.map(toolScope) } : {}),
    bearer_methods_supported: ['header'],
  };
}

/**
 * The guard's challenge with what an MCP client needs to act on it (MCP authorization, RFC 9728
 * 5.1): `resource_metadata`, and on a 403 `insufficient_scope` the `scope` to step up to.
 */
export function withResourceMetadata(
  refusal: GuardRefusal,
  metadataUrl: string,
  scope?: string,
): string {
  const extra = [
    `resource_metadata="${metadataUrl}"`,
    ...(scope ? [`scope="${scope.replace(/[^\x21\x23-\x5b\x5d-\x7e ]/g, '')}"`] : []),
  ];
  return `${refusal.wwwAuthenticate}, ${extra.join(', ')}`;
}
