// Types of the values global-setup.ts hands to tests through vitest's provide/inject.
export {};

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the private redis-server shared by all test files; use a uniquePrefix() per file. */
    redisUrl: string;
  }
}
