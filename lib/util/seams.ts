/**
 * Test seams. Each does nothing unless its environment variable is set, so a
 * production run never pays for them beyond one property read.
 *
 * GPM_TEST_KILL_AT=<step>[,<step>...]  SIGKILL this process right after the named step
 *                                     (the kill tests run the real CLI once per step).
 * GPM_TEST_KILL_AFTER_RENAMES=<n>     SIGKILL after the n-th rename of a transaction.
 */
export function killPoint(step: string): void {
  const at = process.env.GPM_TEST_KILL_AT;
  if (!at) return;
  if (at.split(",").includes(step)) process.kill(process.pid, "SIGKILL");
}

/** Every kill point name, so the kill test can prove it covers them all. */
export const KILL_POINTS: string[] = [];
export function declareKillPoints(...names: string[]): void {
  for (const n of names) if (!KILL_POINTS.includes(n)) KILL_POINTS.push(n);
}

/** GPM_TEST_KILL_AFTER_MOVES=<n>: SIGKILL right after the n-th move of a transaction. */
let moves = 0;
export function killAfterMove(): void {
  const n = process.env.GPM_TEST_KILL_AFTER_MOVES;
  if (!n) return;
  moves++;
  if (Number(n) === moves) process.kill(process.pid, "SIGKILL");
}
