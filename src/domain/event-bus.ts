// Port: invalidation events between broker processes (a client, the policy, the keys, a grant changed).
export type BusEvent =
  | { readonly type: 'client'; readonly id: string }
  | { readonly type: 'policy'; readonly version: number }
  | { readonly type: 'keys' }
  | { readonly type: 'grant'; readonly id: string; readonly status: string };

export interface EventBus {
  publish(event: BusEvent): Promise<void>;
  subscribe(handler: (event: BusEvent) => void): void;
  close(): Promise<void>;
}
