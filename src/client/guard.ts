// Public entry `mandate/guard`: the framework-free resource guard for any Node server.
export {
  type CheckOptions,
  createMandateGuard,
  type GuardError,
  type GuardResult,
  type InvalidateFilter,
  MAX_CACHE_TTL_MS,
  type MandateClaims,
  type MandateGuard,
  type MandateGuardOptions,
} from './mandate-guard.ts';
