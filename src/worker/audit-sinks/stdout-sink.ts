// The stdout audit sink: one JSON line per record, the record's exact stored text, beside the logs.
import type { SinkWriter } from './sink-writer.ts';

/** Writes to `out` (process.stdout by default), waiting for it to drain. */
export function createStdoutSink(out: NodeJS.WritableStream = process.stdout): SinkWriter {
  return {
    write: (batch) =>
      new Promise<void>((ok, fail) => {
        if (batch.length === 0) return ok();
        out.write(`${batch.map((r) => r.text).join('\n')}\n`, (err) => (err ? fail(err) : ok()));
      }),
    close: async () => undefined,
  };
}
