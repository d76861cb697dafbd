// Rate-limit windows are calendar minutes: a counting test waits out a window's last seconds so it never straddles two.

/** Resolves at once, or just after the current minute ends when less than 5 s of it are left. */
export async function freshWindow(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5_000) await new Promise((ok) => setTimeout(ok, left + 50));
}
