// The port to Client ID Metadata Documents: a client whose client_id is the https URL of a document describing it.

/** A client known by its Client ID Metadata Document (client_id is the document's https URL). */
export interface MetadataClient {
  readonly client_id: string; // the URL
  readonly client_name?: string;
  readonly redirect_uris: readonly string[];
  readonly token_endpoint_auth_method: 'none' | 'private_key_jwt';
  readonly jwks_uri?: string;
  readonly jwks?: { keys: Record<string, unknown>[] };
}
export interface ClientMetadataDocuments {
  /** Fetches (or reads from cache) and validates the document; throws OAuthError('invalid_client', ...) when it cannot be used. */
  resolve(clientIdUrl: string): Promise<MetadataClient>;
}
