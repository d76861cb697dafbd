// Public entry `mandate/guard`: the framework-free resource guard for any Node server.
export type { GuardError } from './bearer-challenge.ts';
export type { GuardedRequest } from './dpop-proof.ts';
export {
  handleSecurityEventRequest,
  type SecurityEventReceiverOptions,
  type SecurityEventRequest,
  type SecurityEventResponse,
} from './handle-security-event-request.ts';
export type { MandateClaims } from './mandate-claims.ts';
export {
  type CheckOptions,
  createMandateGuard,
  type GuardResult,
  type MandateGuard,
  type MandateGuardOptions,
  type VerifyResult,
} from './mandate-guard.ts';
export { type InvalidateFilter, MAX_CACHE_TTL_MS } from './permit-cache.ts';
export {
  MAX_SET_BYTES,
  type SecurityEventError,
  type SecurityEventResult,
} from './verify-security-event.ts';
