// Declared step order: a task's steps run in order; a step may repeat, never go back or skip ahead.

export type StepCheck =
  | { readonly ok: true; readonly index: number }
  | { readonly ok: false; readonly reason: 'step_required' | 'unknown_step' | 'step_out_of_order' };

/**
 * Checks `step` against the declared `steps`, given the index of the last step taken (-1 before
 * the first). Allowed: the same step again, or the next one. The first step must be steps[0].
 */
export function checkStep(
  steps: readonly string[],
  lastIndex: number,
  step: string | undefined,
): StepCheck {
  if (step === undefined) return { ok: false, reason: 'step_required' };
  const index = steps.indexOf(step);
  if (index < 0) return { ok: false, reason: 'unknown_step' };
  // A step that appears twice in the declaration counts at its next occurrence.
  const candidates = steps.flatMap((s, i) => (s === step ? [i] : []));
  const next = candidates.find((i) => i === lastIndex || i === lastIndex + 1);
  return next === undefined
    ? { ok: false, reason: 'step_out_of_order' }
    : { ok: true, index: next };
}
