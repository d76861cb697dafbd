// Gauges read at scrape time: live grants, pending approvals, queue depths, CAEP failures, signing-key age.
import { Gauge, type Registry } from 'prom-client';

/** One labelled value of a gauge. */
export interface Sample {
  readonly labels?: Record<string, string>;
  readonly value: number;
}

/** Where each gauge's value comes from; a source that fails leaves the gauge out of that scrape. */
export interface StateSources {
  readonly grantsLive?: () => Promise<number>;
  readonly approvalsPending?: () => Promise<number>;
  /** Jobs per BullMQ queue and state (wait, active, delayed, failed). */
  readonly queueDepth?: () => Promise<Sample[]>;
  /** CAEP deliveries given up and still kept (failed jobs), per receiver. */
  readonly caepFailed?: () => Promise<Sample[]>;
  /** Seconds since the active signing key was created. */
  readonly signingKeyAge?: () => Promise<number | undefined>;
}

const GAUGES: ReadonlyArray<{
  name: string;
  help: string;
  source: keyof StateSources;
  labelNames?: string[];
}> = [
  {
    name: 'mandate_grants_live',
    help: 'Grants active or suspended, before their deadline',
    source: 'grantsLive',
  },
  {
    name: 'mandate_approvals_pending',
    help: 'Approval requests waiting for an approver',
    source: 'approvalsPending',
  },
  {
    name: 'mandate_queue_depth',
    help: 'BullMQ jobs by queue and state',
    source: 'queueDepth',
    labelNames: ['queue', 'state'],
  },
  {
    name: 'mandate_caep_delivery_failures',
    help: 'CAEP deliveries given up (failed jobs kept), by receiver',
    source: 'caepFailed',
    labelNames: ['receiver'],
  },
  {
    name: 'mandate_signing_key_age_seconds',
    help: 'Age of the active signing key',
    source: 'signingKeyAge',
  },
];

/** Registers the gauges on `registry`; each reads its source when Prometheus scrapes. */
export function registerStateGauges(registry: Registry, sources: StateSources): void {
  for (const g of GAUGES) {
    const read = sources[g.source];
    if (!read) continue;
    new Gauge({
      name: g.name,
      help: g.help,
      labelNames: g.labelNames ?? [],
      registers: [registry],
      async collect() {
        this.reset();
        try {
          const value = await read();
          if (typeof value === 'number') this.set(value);
          else if (Array.isArray(value)) for (const s of value) this.set(s.labels ?? {}, s.value);
        } catch {
          // Redis unreachable: no value this scrape (readiness says why).
        }
      },
    });
  }
}
