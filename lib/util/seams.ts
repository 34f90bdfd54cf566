import fs from "node:fs";
import path from "node:path";

/**
 * Test seams. Each does nothing unless its environment variable is set, so a
 * production run never pays for them beyond a property read.
 *
 * GPM_TEST_KILL_AT=<step>[,<step>...]   SIGKILL this process right after the named step
 *                                      (the kill tests run the real CLI once per step);
 *                                      `<step>#<n>`: after its n-th time (undo-move, ...).
 * GPM_TEST_PAUSE_AT=<step>[,<step>...]  at the named step, write `<root>/.gpm/paused-<step>`
 *                                      (empty) and wait until a test removes it,
 *                                      so the test can act at a known instant: send
 *                                      SIGINT/SIGTERM, start a second gpm, fill the disk.
 *                                      Each step pauses the first time it is reached.
 * GPM_TEST_KILL_AFTER_MOVES=<n>        SIGKILL right after the n-th move of a transaction.
 *
 * Step names are `<phase>:<step>`; KILL_POINTS lists every one (test/e2e/kill.test.ts
 * checks the list against the killPoint() calls in lib/ and runs the CLI once per name).
 */
export const KILL_POINTS = [
  "lock:acquired",
  // stage: nothing live is touched yet (invariant 1)
  "stage:dir-created",
  "stage:downloaded",
  "stage:extracting",
  "stage:extracted",
  "stage:user-copied",
  "stage:flushed",
  "stage:manifest-written",
  // promote (lib/promote) and its transaction (lib/txn, named by the transaction's kind)
  "promote:planned",
  "upgrade:journal-written",
  "upgrade:flag-raised",
  "upgrade:copy-journaled",
  "upgrade:copy-placed",
  "upgrade:moves-applied",
  "promote:post-upgrade-started",
  "promote:post-upgrade-done",
  "promote:smoke-passed",
  "upgrade:committed",
  // undo of a failed upgrade
  "upgrade:undoing",
  "upgrade:undo-move",
  "restore:user-moved-aside",
  "restore:user-restored",
  "upgrade:undo-flag-lowered",
  "promote:restored",
  // finalize and retention
  "finalize:metadata-written",
  "finalize:flag-lowered",
  "finalize:manifest-written",
  "finalize:records-written",
  "finalize:journal-removed",
  "finalize:leftovers-removed",
  "retention:snapshot-moved-aside",
  // rollback (a swap through the same transaction layer)
  "rollback:journal-written",
  "rollback:flag-raised",
  "rollback:copy-journaled",
  "rollback:copy-placed",
  "rollback:moves-applied",
  "rollback:committed",
  "rollback:metadata-written",
  "rollback:flag-lowered",
  "rollback:manifest-written",
  "rollback:records-written",
  "rollback:journal-removed",
  "rollback:undoing",
  "rollback:undo-move",
  "rollback:undo-flag-lowered",
  // recovery at the start of the next command
  "recover:journal-done",
  "recover:flag-removed",
  "recover:leftovers-removed",
] as const;

export type KillPointName = (typeof KILL_POINTS)[number];

let seamRoot: string | null = null;

/** Where GPM_TEST_PAUSE_AT writes its marker: the session sets it once the root is known. */
export function setSeamRoot(root: string): void {
  seamRoot = root;
}

export function killPoint(step: string): void {
  const kill = process.env.GPM_TEST_KILL_AT;
  if (kill) {
    const n = (hits.get(step) ?? 0) + 1;
    hits.set(step, n);
    for (const want of kill.split(",")) if (want === step || want === `${step}#${n}`) process.kill(process.pid, "SIGKILL");
  }
  const pause = process.env.GPM_TEST_PAUSE_AT;
  if (pause && pause.split(",").includes(step) && !paused.has(step)) {
    paused.add(step); // a step hit once per move (undo-move, ...) pauses the first time only
    pauseHere(step);
  }
}
const paused = new Set<string>();
const hits = new Map<string, number>();

/**
 * Block (synchronously: the step must not move on) until the marker file is
 * removed, at most 5 minutes. A signal that arrives meanwhile is recorded by
 * libuv and reaches the JS handler at the next turn of the event loop, so the
 * code after this step sees it exactly as it would in a real run.
 */
function pauseHere(step: string): void {
  const dir = path.join(seamRoot ?? process.env.GPM_ROOT ?? process.cwd(), ".gpm");
  fs.mkdirSync(dir, { recursive: true });
  const marker = path.join(dir, `paused-${step}`);
  // Empty: removing it frees no disk space (the full-disk tests fill the file system during a pause).
  fs.writeFileSync(marker, "");
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + 5 * 60_000;
  while (fs.existsSync(marker) && Date.now() < until) Atomics.wait(cell, 0, 0, 10);
  fs.rmSync(marker, { force: true });
}

let moves = 0;
export function killAfterMove(): void {
  const n = process.env.GPM_TEST_KILL_AFTER_MOVES;
  if (!n) return;
  moves++;
  if (Number(n) === moves) process.kill(process.pid, "SIGKILL");
}
