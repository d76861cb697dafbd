// Public entry `mandate/client`: the agent SDK.
export type { CryptoKeyPair, DpopKeyOption } from './dpop-proof.ts';
export {
  createMandateClient,
  type GrantedTask,
  type MandateClient,
  type MandateClientOptions,
  type MandateTask,
  type MandateTaskHandle,
  type TaskIntent,
  type WithTaskOptions,
} from './mandate-client.ts';
export {
  ApprovalRequiredError,
  GrantRevokedError,
  MandateError,
  type MandateErrorCode,
} from './mandate-error.ts';
export {
  type AssertionAlgorithm,
  type AssertionSigner,
  createAssertionSigner,
  type PrivateKeyInput,
} from './private-key-jwt.ts';
