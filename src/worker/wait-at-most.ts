// Waits for background work at most so long, then lets the caller go on while it finishes.

/** Resolves when `work` settles or after `ms`, whichever is first (`onSlow` runs in the second case). */
export async function waitAtMost(work: Promise<unknown>, ms: number, onSlow?: () => void) {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((ok) => {
    timer = setTimeout(() => {
      onSlow?.();
      ok();
    }, ms);
    timer.unref();
  });
  await Promise.race([work, waited]);
  clearTimeout(timer);
}
