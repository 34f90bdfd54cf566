import fs from "node:fs";
import path from "node:path";

/**
 * Test seams: the only place that reads the GPM_TEST_* variables. They are
 * parsed once, when this module is first imported (at start-up), into one
 * frozen `seams` object; each seam does nothing unless its variable is set, so
 * a production run never pays for them beyond a property read.
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
 * GPM_TEST_FAIL_RENAME=<n>             the n-th rename of a live entry (lib/txn/fs-ops) fails with EIO.
 * GPM_TEST_EXDEV=1                     every rename across folders fails with EXDEV (forces the copy fallback).
 *
 * The variable names are documented and used by outside checks: keep them.
 */
export interface Seams {
  /** Kill-point names, or `<name>#<n>`, to SIGKILL after. Empty: inert. */
  readonly killAt: ReadonlySet<string>;
  readonly pauseAt: ReadonlySet<string>;
  readonly killAfterMoves: number | null;
  readonly failRename: number | null;
  readonly exdev: boolean;
}

export function parseSeams(env: NodeJS.ProcessEnv): Seams {
  const list = (v: string | undefined): ReadonlySet<string> => new Set((v ?? "").split(",").filter(Boolean));
  const count = (v: string | undefined): number | null => (v ? Number(v) : null);
  return Object.freeze({
    killAt: list(env.GPM_TEST_KILL_AT),
    pauseAt: list(env.GPM_TEST_PAUSE_AT),
    killAfterMoves: count(env.GPM_TEST_KILL_AFTER_MOVES),
    failRename: count(env.GPM_TEST_FAIL_RENAME),
    exdev: env.GPM_TEST_EXDEV === "1",
  });
}

export let seams: Seams = parseSeams(process.env);

/**
 * Read the variables again. Only a unit test that sets one in its own process
 * (the EXDEV copy fallback of lib/txn) calls this; the CLI reads them once, at
 * start-up, and never again.
 */
export function reloadSeams(env: NodeJS.ProcessEnv = process.env): void {
  seams = parseSeams(env);
}

/*
 * Kill-point names are `<phase>:<step>`. The transaction layer names its points
 * after the transaction's kind (`${j.kind}:journal-written`), so they are a
 * template literal type over the kinds and steps: a killPoint() call with a
 * name not in this type does not compile, and KILL_POINTS (which the kill test
 * runs the CLI once per name for) must hold exactly the type's members.
 */
/** Transaction kinds (lib/txn/journal.ts TxKind): a new kind must be added here, or its kill points do not compile. */
export type TxnKind = "upgrade" | "rollback";
/** Points every transaction passes (lib/txn). */
export type TxnStep =
  | "journal-written"
  | "flag-raised"
  | "copy-journaled"
  | "copy-placed"
  | "moves-applied"
  | "committed"
  | "undoing"
  | "undo-move"
  | "undo-flag-lowered";
/** A rollback's own finishing steps. */
type RollbackFinish = "metadata-written" | "flag-lowered" | "manifest-written" | "records-written" | "journal-removed";

export type KillPoint =
  | "lock:acquired"
  // stage: nothing live is touched yet (invariant 1)
  | `stage:${"dir-created" | "downloaded" | "extracting" | "extracted" | "user-copied" | "flushed" | "manifest-written"}`
  // promote (lib/promote) and its transaction (lib/txn)
  | `promote:${"planned" | "post-upgrade-started" | "post-upgrade-done" | "smoke-passed" | "restored"}`
  | `${TxnKind}:${TxnStep}`
  | `restore:${"appeared-moved" | "user-moved-aside" | "user-entry-aside" | "user-contents-aside" | "user-entry-restored" | "user-restored"}`
  // finalize and retention
  | `finalize:${"metadata-written" | "flag-lowered" | "manifest-written" | "records-written" | "journal-removed" | "leftovers-removed"}`
  | "retention:snapshot-moved-aside"
  // `gpm snapshots pin|unpin`: one durable manifest write
  | "snapshots:pin-written"
  | `rollback:${RollbackFinish}`
  // recovery at the start of the next command
  | `recover:${"journal-done" | "flag-removed" | "leftovers-removed"}`;

/** Every kill point, in the order of a run (the kill test's cases follow it). */
export const KILL_POINTS = [
  "lock:acquired",
  "stage:dir-created",
  "stage:downloaded",
  "stage:extracting",
  "stage:extracted",
  "stage:user-copied",
  "stage:flushed",
  "stage:manifest-written",
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
  "upgrade:undoing",
  "upgrade:undo-move",
  "restore:appeared-moved",
  "restore:user-moved-aside",
  "restore:user-entry-aside",
  "restore:user-contents-aside",
  "restore:user-entry-restored",
  "restore:user-restored",
  "upgrade:undo-flag-lowered",
  "promote:restored",
  "finalize:metadata-written",
  "finalize:flag-lowered",
  "finalize:manifest-written",
  "finalize:records-written",
  "finalize:journal-removed",
  "finalize:leftovers-removed",
  "retention:snapshot-moved-aside",
  "snapshots:pin-written",
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
  "recover:journal-done",
  "recover:flag-removed",
  "recover:leftovers-removed",
] as const satisfies readonly KillPoint[];

/** Compiles only while KILL_POINTS lists every member of KillPoint (satisfies above: nothing else). */
const listsEveryPoint: [Exclude<KillPoint, (typeof KILL_POINTS)[number]>] extends [never] ? true : never = true;
void listsEveryPoint;

let seamRoot: string | null = null;

/** Where GPM_TEST_PAUSE_AT writes its marker: the session sets it once the root is known. */
export function setSeamRoot(root: string): void {
  seamRoot = root;
}

const paused = new Set<string>();
const hits = new Map<string, number>();

export function killPoint(step: KillPoint): void {
  if (seams.killAt.size) {
    const n = (hits.get(step) ?? 0) + 1;
    hits.set(step, n);
    if (seams.killAt.has(step) || seams.killAt.has(`${step}#${n}`)) process.kill(process.pid, "SIGKILL");
  }
  if (seams.pauseAt.has(step) && !paused.has(step)) {
    paused.add(step); // a step hit once per move (undo-move, ...) pauses the first time only
    pauseHere(step);
  }
}

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
  if (seams.killAfterMoves === null) return;
  moves++;
  if (seams.killAfterMoves === moves) process.kill(process.pid, "SIGKILL");
}

let renames = 0;
/** GPM_TEST_FAIL_RENAME / GPM_TEST_EXDEV: the fault to inject into this rename of a live entry, if any. */
export function renameFault(from: string, to: string): "EIO" | "EXDEV" | null {
  renames++;
  if (seams.failRename !== null && seams.failRename === renames) return "EIO";
  if (seams.exdev && path.dirname(from) !== path.dirname(to)) return "EXDEV";
  return null;
}
