// CAEP receivers: register, list and remove the endpoints revocations and narrowings are pushed to.
import { ProblemError } from '../domain/errors.ts';
import {
  publicReceiver,
  type ReceiverInput,
  type ReceiverStore,
  receiverOf,
} from '../domain/receiver.ts';
import {
  type ReceiverTargetPolicy,
  receiverUrlProblem,
  STRICT_RECEIVER_TARGETS,
} from '../domain/receiver-target.ts';

/**
 * Registers a receiver; 400 when its URL is not allowed by `targets` (https, public addresses,
 * unless config allows more), 409 when the id is taken (delete it first to change it).
 */
export async function createReceiver(
  store: ReceiverStore,
  input: ReceiverInput,
  targets: ReceiverTargetPolicy = STRICT_RECEIVER_TARGETS,
) {
  const problem = receiverUrlProblem(input.url, targets);
  if (problem)
    throw new ProblemError(400, 'Receiver URL not allowed', `url: ${problem}`, [
      { path: 'url', message: problem },
    ]);
  const receiver = receiverOf(input);
  if (!(await store.create(receiver)))
    throw new ProblemError(409, 'Receiver exists', `receiver ${receiver.id} already exists`);
  return publicReceiver(receiver);
}

export async function listReceivers(store: ReceiverStore) {
  return { receivers: (await store.list()).map(publicReceiver) };
}

export async function deleteReceiver(store: ReceiverStore, id: string) {
  if (!(await store.delete(id)))
    throw new ProblemError(404, 'Receiver not found', 'no such receiver');
  return { deleted: id };
}

/** Config-file receivers, created or replaced at every start (the file is the source of truth for them). */
export async function seedReceivers(
  store: ReceiverStore,
  inputs: readonly ReceiverInput[],
): Promise<void> {
  for (const input of inputs) await store.put(receiverOf(input));
}
