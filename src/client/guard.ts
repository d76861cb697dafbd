// Public entry `mandate/guard`: the framework-free resource guard for any Node server.
export {
  type CheckOptions,
  createMandateGuard,
  type GuardError,
  type GuardResult,
  handleSecurityEventRequest,
  type InvalidateFilter,
  MAX_CACHE_TTL_MS,
  MAX_SET_BYTES,
  type MandateClaims,
  type MandateGuard,
  type MandateGuardOptions,
  type SecurityEventError,
  type SecurityEventReceiverOptions,
  type SecurityEventRequest,
  type SecurityEventResponse,
  type SecurityEventResult,
} from './mandate-guard.ts';
