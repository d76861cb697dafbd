// CAEP receivers: the resource servers that are pushed a Security Event Token when a grant ends or shrinks.
import { z } from 'zod';
import { CAEP_EVENT_TYPE, type CaepEventKind } from './caep-event-types.ts';

/** The CAEP event kinds Mandate emits, by their short name. */
export const CaepEventKindSchema = z.enum(
  Object.keys(CAEP_EVENT_TYPE) as [CaepEventKind, ...CaepEventKind[]],
);
export type { CaepEventKind };
export const ALL_CAEP_EVENT_KINDS: readonly CaepEventKind[] = CaepEventKindSchema.options;

/** Receiver ids travel in URL paths, job data and log lines: keep them plain. */
export const ReceiverIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be letters, digits and _ . -');

const HttpUrl = z
  .string()
  .max(2048)
  .refine(
    (v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol),
    'must be an absolute http(s) URL',
  );

/**
 * A receiver as configured (config file `receivers:` or `POST /admin/receivers`).
 * `audience` defaults to `url`; `events` to both kinds; `authorization` is the bearer token sent
 * as `Authorization: Bearer <token>` with every push (stored, never shown again).
 */
export const ReceiverInputSchema = z
  .object({
    id: ReceiverIdSchema,
    /** The RFC 8935 push endpoint (https on a public address unless `caep.*` config allows more: manage-receivers checks it). */
    url: HttpUrl,
    /**
     * The SET's `aud`, and the resource whose grants the receiver hears of: an event goes to it only
     * when the grant's locations (before or after a narrowing) include it, exactly. Default `url`.
     */
    audience: z.string().min(1).max(2048).optional(),
    /** Event kinds this receiver wants; default both. */
    events: z
      .array(CaepEventKindSchema)
      .min(1)
      .refine((e) => new Set(e).size === e.length, 'must not repeat an event')
      .optional(),
    /** Bearer token for the receiver's endpoint; printable ASCII only, so it cannot split a header. */
    authorization: z
      .string()
      .min(1)
      .max(4096)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional(),
  })
  .strict();
export type ReceiverInput = z.infer<typeof ReceiverInputSchema>;

/** A stored receiver, defaults applied. */
export interface Receiver {
  readonly id: string;
  readonly url: string;
  readonly audience: string;
  readonly events: readonly CaepEventKind[];
  readonly authorization?: string | undefined;
}

/** Applies the documented defaults. */
export function receiverOf(input: ReceiverInput): Receiver {
  return {
    id: input.id,
    url: input.url,
    audience: input.audience ?? input.url,
    events: input.events ?? [...ALL_CAEP_EVENT_KINDS],
    ...(input.authorization !== undefined ? { authorization: input.authorization } : {}),
  };
}

/** What the admin API shows: the bearer token is only said to exist. */
export function publicReceiver(r: Receiver) {
  return {
    id: r.id,
    url: r.url,
    audience: r.audience,
    events: [...r.events],
    has_authorization: r.authorization !== undefined,
  };
}

export interface ReceiverStore {
  list(): Promise<Receiver[]>;
  get(id: string): Promise<Receiver | undefined>;
  /** Creates the receiver; false when the id is taken. */
  create(receiver: Receiver): Promise<boolean>;
  /** Creates or replaces (config receivers at start). */
  put(receiver: Receiver): Promise<void>;
  delete(id: string): Promise<boolean>;
}
