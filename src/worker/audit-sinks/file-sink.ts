// The file audit sink: JSON lines appended to one file, rotated by size (`<path>` -> `<path>.1` -> ... -> `<path>.<keep>`).
import { appendFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SinkWriter } from './sink-writer.ts';

export interface FileSinkOptions {
  readonly path: string;
  /** Rotate before a write would take the file past this size. */
  readonly maxBytes: number;
  /** Rotated files kept. */
  readonly keep: number;
}

/**
 * Appends each batch in as few writes as the size limit allows (fsync is left to the OS: a crash
 * may lose the last batch from the file, and the sink's cursor then reads it again). A file passes
 * `maxBytes` only when one record alone is larger.
 */
export function createFileSink(opts: FileSinkOptions): SinkWriter {
  let size: number | undefined;
  const rotate = async () => {
    await rm(`${opts.path}.${opts.keep}`, { force: true });
    for (let i = opts.keep - 1; i >= 1; i -= 1)
      await rename(`${opts.path}.${i}`, `${opts.path}.${i + 1}`).catch(
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        },
      );
    await rename(opts.path, `${opts.path}.1`);
    size = 0;
  };
  return {
    async write(batch) {
      if (batch.length === 0) return;
      if (size === undefined) {
        await mkdir(dirname(opts.path), { recursive: true });
        size = await stat(opts.path).then(
          (s) => s.size,
          () => 0,
        );
      }
      // Lines go out in runs that fit the current file; a line is never split across files.
      let run = '';
      for (const { text } of batch) {
        const line = `${text}\n`;
        const bytes = Buffer.byteLength(line);
        if (size + Buffer.byteLength(run) + bytes > opts.maxBytes && size + run.length > 0) {
          if (run) await appendFile(opts.path, run, { mode: 0o600 });
          await rotate();
          run = '';
        }
        run += line;
      }
      await appendFile(opts.path, run, { mode: 0o600 });
      size += Buffer.byteLength(run);
    },
    close: async () => undefined,
  };
}
