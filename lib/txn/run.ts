import type { Installation, Metadata } from "../install/installation.js";
import { updateMetadata } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { GpmError, Exit, errorMessage } from "../util/errors.js";
import { killPoint } from "../util/seams.js";
import { mirrorRecords } from "../store/records.js";
import { enterRecoveryMode } from "../recovery-mode/enter.js";
import { beginTransaction, raiseMaintenanceFlag, applyMoves, setPhase, undoTransaction, lowerMaintenanceFlag, endTransaction } from "./transaction.js";
import { rel, type Journal, type Move, type TxKind } from "./journal.js";
import { checkMoves } from "./containment.js";
import { snapshotPaths } from "../store/paths.js";
import { restoreUserAfterPostUpgrade } from "./restore-user.js";
import { drainRequests, settleInflightLock } from "../web/guard.js";

/**
 * The one runner of every swap of the live tree: upgrade, rollback and redo
 * begin here, and repair ends here (undo, or the finishing steps). Each phase
 * is paired with what reverses it, as npm's arborist pairs each reify step
 * with its rollback:
 *
 *   step                          reversed by
 *   journal written (durably)     undo removes the journal last
 *   in-flight lock settled        nothing (owner and mode fixed for the web server's PHP)
 *   maintenance flag raised       undo lowers it
 *   in-flight requests drained    nothing (the guard lets requests in when the flag is down)
 *   moves applied                 undo renames back, newest first (+ undoExtra)
 *   beforeCommit (postUpgrade,    the undo above; user/ back from the snapshot
 *     smoke check)                  once postUpgrade had started
 *   phase committed               nothing: from here repair finishes (FINISH)
 *
 * and an undo that fails raises the recovery flag (exit 7, RESTORE_FAILED).
 */
export interface SwapSpec {
  kind: TxKind;
  manifestId: string;
  moves: Move[];
  /** The maintenance flag to raise (relative to the root), or null for none. */
  maintenanceFlag: string | null;
  /** Versions live before and after (the journal's meta; repair reports them). */
  from: string | null;
  to: string | null;
  /** Extra fields of the maintenance flag while it is up. */
  flag?: Record<string, unknown>;
  /** After the moves, before commit: postUpgrade, the smoke check. Throwing undoes the swap. */
  beforeCommit?: (j: Journal) => Promise<void>;
  /** Undo's step after the moves are back; default: what the journal itself calls for (undoExtraOf). */
  undoExtra?: () => Promise<void>;
  /** Called with the cause before the undo starts (log it, start a timer). */
  failing?: (cause: unknown) => void;
  /** The lines for a failed undo: the recovery flag's reason and the error's message. */
  escalate: Escalation;
  /** After a successful undo: record what happened and return the error the caller throws. */
  undone: (cause: unknown, j: Journal) => Promise<Error>;
  log: Logger;
  /** Filled with `journal` and `swap` (ms): writing the journal, making the moves. */
  timings?: Record<string, number>;
}

/** `cause` is what made the swap fail (errorMessage of it), `undoErr` what made its undo fail. */
export interface Escalation {
  reason: (cause: string, undoErr: string) => string;
  message: (cause: string, undoErr: string) => string;
  /** Run once the recovery flag is up (record the failure); must not throw. */
  after?: (cause: string, undoErr: string) => Promise<void>;
}

/** Journal → flag → moves → beforeCommit → commit; any failure undoes. Returns the committed journal, to finish. */
export async function runSwap(inst: Installation, s: SwapSpec): Promise<Journal> {
  const timings = s.timings ?? {};
  // The plan comes from a manifest (its core, its snapshot's folders): check it as state (invariant 7).
  const file = rel(inst, snapshotPaths(inst, s.manifestId).manifest);
  await checkMoves(inst, s.moves, { file, manifestId: s.manifestId, kind: s.kind, hint: `put back ${file} and its snapshot folder from a backup (see docs/RECOVERY.md), or remove the snapshot with its folder` });
  let t = Date.now();
  const j = await beginTransaction(inst, { kind: s.kind, manifestId: s.manifestId, moves: s.moves, maintenanceFlag: s.maintenanceFlag, from: s.from, to: s.to, recordTopLevel: s.kind === "upgrade" });
  timings.journal = Date.now() - t;
  try {
    // PHP must be able to hold the in-flight lock, or the drain below waits for nothing (lib/web/guard.ts).
    if (s.maintenanceFlag) await settleInflightLock(inst, s.log);
    const onAt = await raiseMaintenanceFlag(inst, j, { startedAt: new Date().toISOString(), pid: process.pid, from: s.from, to: s.to, ...s.flag });
    j.meta.maintenanceOnAt = new Date(onAt).toISOString();
    t = Date.now();
    // Requests already inside PHP finish on the old tree before it moves (lib/web/guard.ts; bounded).
    await drainRequests(inst, s.log);
    timings.drain = Date.now() - t;
    t = Date.now();
    await applyMoves(inst, j, s.log);
    timings.swap = Date.now() - t;
    if (s.beforeCommit) await s.beforeCommit(j);
    await setPhase(inst, j, "committed");
  } catch (cause) {
    s.failing?.(cause);
    await undoOrEscalate(inst, j, { log: s.log, undoExtra: s.undoExtra ?? undoExtraOf(inst, j, s.log), escalate: s.escalate, cause: errorMessage(cause) });
    throw await s.undone(cause, j);
  }
  return j;
}

/**
 * Undo a journal, or — when even that fails — enter recovery mode and throw
 * RESTORE_FAILED (exit 7). Shared by a failing swap and by repair.
 */
export async function undoOrEscalate(
  inst: Installation,
  j: Journal,
  o: { log: Logger; undoExtra?: () => Promise<void>; escalate: Escalation; cause?: string },
): Promise<void> {
  try {
    await undoTransaction(inst, j, o.log, o.undoExtra);
  } catch (undoErr) {
    const why = errorMessage(undoErr);
    const cause = o.cause ?? "";
    await enterRecoveryMode(inst, { reason: o.escalate.reason(cause, why), manifest: j.manifestId }, o.log);
    await o.escalate.after?.(cause, why);
    throw new GpmError(Exit.RESTORE_FAILED, o.escalate.message(cause, why), "the site is in recovery mode; follow docs/RECOVERY.md");
  }
}

/**
 * What undo does beyond the moves, read off the journal alone, so that repair
 * does exactly what the failing run would have: once postUpgrade had started,
 * user/ goes back from the snapshot (DESIGN invariant 4's one exception).
 */
export function undoExtraOf(inst: Installation, j: Journal, log: Logger): (() => Promise<void>) | undefined {
  return j.kind === "upgrade" && j.postUpgradeStarted ? () => restoreUserAfterPostUpgrade(inst, j, log) : undefined;
}

/** Maintenance on (the journal's meta.maintenanceOnAt) → now; null when the raise time is unknown. */
export function downtimeOf(j: Journal, now = Date.now()): number | null {
  const on = j.meta.maintenanceOnAt ? Date.parse(j.meta.maintenanceOnAt) : NaN;
  return Number.isFinite(on) ? Math.max(0, now - on) : null;
}

/** What a kind of swap writes in its finishing steps (promote/finalize.ts, rollback/). */
export interface FinishHooks {
  /** metadata.json fields for the tree now live. */
  metadata: Partial<Metadata>;
  /** Record the finished swap in its manifest; `downtimeMs` is null when the flag's raise time is unknown. */
  manifest: (downtimeMs: number | null) => Promise<void>;
  /** Remove what the finished swap no longer needs in its snapshot. */
  scratch: () => Promise<void>;
  /** Just before the maintenance flag comes down (the web guard's window for the new release opens). */
  beforeFlagDown?: () => Promise<void>;
}

interface FinishState {
  downtimeMs: number | null;
}

interface FinishStep {
  name: "metadata" | "flag" | "manifest" | "records" | "journal" | "scratch";
  run: (inst: Installation, j: Journal, h: FinishHooks, st: FinishState) => Promise<unknown>;
  /** The kill point after the step, per kind (named literally, so the kill test finds each one). */
  done: Record<TxKind, () => void>;
}

/**
 * Finishing a committed swap: one list of named steps, each idempotent, so
 * repair replays the whole list after a crash anywhere in it. Metadata first
 * (while the flag is still up, nobody sees the new tree with the old
 * version), then the flag comes down (end of downtime), the manifest, the
 * records in user/data/upgrades/; the journal goes last of what matters, and
 * only then is the scratch removed.
 */
const FINISH: readonly FinishStep[] = [
  {
    name: "metadata",
    run: (inst, _j, h) => updateMetadata(inst, h.metadata),
    done: { upgrade: () => killPoint("finalize:metadata-written"), rollback: () => killPoint("rollback:metadata-written") },
  },
  {
    name: "flag",
    run: async (inst, j, h, st) => {
      await h.beforeFlagDown?.();
      await lowerMaintenanceFlag(inst, j);
      st.downtimeMs = downtimeOf(j);
    },
    done: { upgrade: () => killPoint("finalize:flag-lowered"), rollback: () => killPoint("rollback:flag-lowered") },
  },
  {
    name: "manifest",
    run: (_inst, _j, h, st) => h.manifest(st.downtimeMs),
    done: { upgrade: () => killPoint("finalize:manifest-written"), rollback: () => killPoint("rollback:manifest-written") },
  },
  {
    name: "records",
    run: (inst) => mirrorRecords(inst),
    done: { upgrade: () => killPoint("finalize:records-written"), rollback: () => killPoint("rollback:records-written") },
  },
  {
    name: "journal",
    run: (inst) => endTransaction(inst),
    done: { upgrade: () => killPoint("finalize:journal-removed"), rollback: () => killPoint("rollback:journal-removed") },
  },
  {
    name: "scratch",
    run: (_inst, _j, h) => h.scratch(),
    done: { upgrade: () => killPoint("finalize:leftovers-removed"), rollback: () => undefined },
  },
];

/**
 * Run the finishing steps of a committed journal; returns the downtime (flag
 * up → down) when known. A step that fails (a full disk, typically) leaves a
 * committed journal that the next command's repair finishes, so the error is
 * exit 8, saying the change is live and what to free — never "nothing changed".
 */
export async function finishSwap(inst: Installation, j: Journal, h: FinishHooks): Promise<number | null> {
  const st: FinishState = { downtimeMs: null };
  for (const step of FINISH) {
    try {
      await step.run(inst, j, h, st);
    } catch (err) {
      if (err instanceof GpmError && err.code === Exit.COMMITTED) throw err;
      const what = j.kind === "upgrade" ? `the upgrade to ${j.meta.to ?? "?"}` : `the rollback to ${j.meta.to ?? "?"}`;
      throw new GpmError(
        Exit.COMMITTED,
        `${what} is committed and live, but finishing it (${step.name}) failed: ${errorMessage(err)}`,
        `free space on the file system of ${inst.root} (see \`df -h ${inst.root}\`); the next gpm command finishes it`,
      );
    }
    step.done[j.kind]();
  }
  return st.downtimeMs;
}
