// CAEP 1.0 event type URIs by the short names Mandate uses (shared by the broker and the SDK's receiver).

/** The event type URI of each CAEP event kind Mandate emits. */
export const CAEP_EVENT_TYPE = {
  'session-revoked': 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
  'token-claims-change': 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change',
} as const;

/** A CAEP event kind Mandate emits. */
export type CaepEventKind = keyof typeof CAEP_EVENT_TYPE;
