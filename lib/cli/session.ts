import type { Context } from "./context.js";
import { open } from "./context.js";
import { requireInstallation, type Installation } from "../install/installation.js";
import { acquireLock, readLock, isLive, type Lock } from "../install/lock.js";
import type { RecoveryReport } from "../repair/recover.js";
import { setSeamRoot } from "../util/seams.js";
import type { Logger } from "../util/log.js";

export interface Session {
  inst: Installation;
  /** What the start-of-command recovery repaired, if anything. */
  recovered: RecoveryReport | null;
  /** False when a read-only command runs while another gpm holds the lock. */
  locked: boolean;
}

/**
 * Every command starts here: open the installation, take the lock, finish or
 * undo an interrupted run (invariant 3), apply pending `auto` migrations, then
 * do its own work, and release the lock whatever happens.
 *
 * `mode: "write"`: the lock is required (exit 5 when another gpm holds it).
 * `mode: "read"`: the lock is taken only when there is something to repair, so
 * a read-only command on a healthy root writes nothing; while a live gpm holds
 * the lock it neither repairs nor migrates (that run's journal is not ours).
 */
export async function withInstallation<T>(ctx: Context, command: string, mode: "read" | "write", fn: (s: Session) => Promise<T>): Promise<T> {
  const inst = await open(ctx);
  setSeamRoot(inst.root);
  return withLockedInstallation(inst, ctx.log, command, mode, fn);
}

/**
 * The lock-and-repair of withInstallation on an installation already open:
 * also what each action of the recovery page runs under (`gpm recovery
 * serve` stays up while other gpm commands come and go).
 */
export async function withLockedInstallation<T>(inst: Installation, log: Logger, command: string, mode: "read" | "write", fn: (s: Session) => Promise<T>): Promise<T> {
  // Nothing is written (not even the lock) in a folder that is not an installation (SPEC section 1).
  if (mode === "write") await requireInstallation(inst);
  let lock: Lock | null = null;
  try {
    // Recovery and migrations are loaded only when this command holds the lock.
    if (mode === "write" || (await (await import("../repair/recover.js")).needsRecovery(inst))) {
      const holder = mode === "read" ? await readLock(inst) : undefined;
      if (!(holder && isLive(holder))) lock = await acquireLock(inst, command, log);
    }
    let recovered: RecoveryReport | null = null;
    if (lock) {
      recovered = await (await import("../repair/recover.js")).recoverInterrupted(inst, log);
      await (await import("../migration/runner.js")).applyAutoMigrations(inst, log);
    }
    return await fn({ inst, recovered, locked: lock !== null });
  } finally {
    await lock?.release();
  }
}
