// What every audit sink writer does: write a batch of records (their exact stored text) or throw.
import type { DecisionRecord } from '../../domain/decision-record.ts';

/** One record as a sink gets it: the record and its exact stored text (what its hash covers). */
export interface SinkRecord {
  readonly sid: string;
  readonly record: DecisionRecord;
  readonly text: string;
}

export interface SinkWriter {
  /** Writes the batch in order; resolves once it is written (flushed, exported), else throws. */
  write(batch: readonly SinkRecord[]): Promise<void>;
  close(): Promise<void>;
}
