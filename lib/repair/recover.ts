import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { exists, lstatOrNull } from "../util/fsx.js";
import { GpmError, Exit, errorMessage } from "../util/errors.js";
import { killPoint } from "../util/seams.js";
import { readJournal } from "../txn/journal.js";
import { undoTransaction } from "../txn/transaction.js";
import { restoreUserAfterPostUpgrade } from "../txn/restore-user.js";
import { finalizeUpgrade, removeStagedLeftovers, stagedLeftoverNames } from "../promote/finalize.js";
import { readManifest, writeManifest, isValidId, listManifests } from "../store/manifest.js";
import { finalizeRollback, removeSwapScratch } from "../rollback/rollback.js";
import { enterRecoveryMode } from "../recovery-mode/enter.js";
import { readRecoveryFlag, writeRecoveryFlag } from "../recovery-mode/flag.js";
import { PRUNED_PREFIX } from "../promote/retention.js";

export interface RecoveryReport {
  /** One line: what was repaired. */
  summary: string;
  actions: string[];
}

/** Is there an interrupted run to repair (a journal, a maintenance flag of a dead run, staged leftovers)? */
export async function needsRecovery(inst: Installation): Promise<boolean> {
  if ((await exists(inst.paths.journal)) || (await exists(inst.paths.maintenanceFlag))) return true;
  return (await findLeftovers(inst)).length > 0;
}

/**
 * Run first by every command that holds the lock (DESIGN invariant 3).
 * A journal in phase `committed` is finished (the new tree had passed its
 * checks: all new); any other journal is undone (all old), user/ included
 * once postUpgrade had started. Then a maintenance flag left by a dead run
 * comes down and staged leftovers are removed. Every step is idempotent, so
 * recovery can itself be killed and run again.
 */
export async function recoverInterrupted(inst: Installation, log: Logger): Promise<RecoveryReport | null> {
  const actions: string[] = [];
  const j = await readJournal(inst);
  if (j) {
    const what = `${j.kind} ${j.meta.from ?? "?"} → ${j.meta.to ?? "?"} (${j.manifestId})`;
    if (j.phase === "committed") {
      if (j.kind === "upgrade") await finalizeUpgrade(inst, j, { log });
      else await finalizeRollback(inst, j, log);
      actions.push(`finished the interrupted ${what}: it had passed its checks`);
    } else {
      // The recovery flag gpm raised when this undo failed may sit in a core folder
      // (system/ by default) that finishing the undo moves away: keep recovery mode on.
      const flag = await readRecoveryFlag(inst).catch(() => null);
      try {
        await undoTransaction(inst, j, log, j.postUpgradeStarted && j.kind === "upgrade" ? () => restoreUserAfterPostUpgrade(inst, j.manifestId, log) : undefined);
      } catch (err) {
        await enterRecoveryMode(inst, { reason: `undoing the interrupted ${what} failed: ${errorMessage(err)}`, manifest: j.manifestId }, log);
        throw new GpmError(Exit.RESTORE_FAILED, `could not undo the interrupted ${what}: ${errorMessage(err)}`, "the site is in recovery mode; follow docs/RECOVERY.md");
      }
      if (flag?.manifest === j.manifestId && !(await readRecoveryFlag(inst).catch(() => null))) await writeRecoveryFlag(inst, flag);
      if (j.kind === "upgrade") {
        const m = await readManifest(inst, j.manifestId);
        if (m) {
          m.status = "failed";
          m.error = `interrupted during promote (pid ${j.pid}); the previous tree was restored`;
          m.finishedAt = new Date().toISOString();
          await writeManifest(inst, m);
        }
        await removeStagedLeftovers(inst, j.manifestId, true);
      } else await removeSwapScratch(inst, j.manifestId);
      actions.push(`undid the interrupted ${what}: the tree is as it was before it began`);
    }
    killPoint("recover:journal-done");
  }
  if (await exists(inst.paths.maintenanceFlag)) {
    // We hold the lock, so whoever raised it is gone.
    await fsp.rm(inst.paths.maintenanceFlag, { force: true });
    actions.push(`removed the maintenance flag ${path.relative(inst.root, inst.paths.maintenanceFlag)} left by a dead run`);
    killPoint("recover:flag-removed");
  }
  for (const id of await findLeftovers(inst)) {
    if (id.startsWith(PRUNED_PREFIX)) {
      await fsp.rm(path.join(inst.paths.snapshots, id), { recursive: true, force: true });
      actions.push(`finished pruning snapshot ${id.slice(PRUNED_PREFIX.length)}`);
      continue;
    }
    const m = await readManifest(inst, id).catch(() => undefined);
    if (!m || m.status === "staged") {
      await fsp.rm(path.join(inst.paths.snapshots, id), { recursive: true, force: true });
      actions.push(`removed the unfinished stage ${id}`);
    } else {
      await removeStagedLeftovers(inst, id, m.status === "failed" || m.status === "restored");
      await removeSwapScratch(inst, id);
      actions.push(`removed staged leftovers of ${id}`);
    }
  }
  killPoint("recover:leftovers-removed");
  await removeStrayJournalTemps(inst);
  if (!actions.length) return null;
  const summary = `repaired an interrupted run: ${actions.join("; ")}`;
  log.warn({ actions }, summary);
  return { summary, actions };
}

/**
 * Snapshot folders with something a finished run would not leave: a stage
 * that never reached promote (status staged, or no manifest yet), or the
 * archive/package of a finished or failed one. Only folders named like a
 * manifest id and holding a stage's files are considered ours.
 */
/** What staging writes into `snapshots/<id>/` before its manifest (lib/stage/stage.ts). */
const STAGE_NAMES = new Set(["package.zip", "package", "files.json", "user", "log.ndjson"]);

async function findLeftovers(inst: Installation): Promise<string[]> {
  const names = await fsp.readdir(inst.paths.snapshots).catch(() => [] as string[]);
  const journal = await readJournal(inst).catch(() => undefined);
  const out: string[] = [];
  const manifests = new Map((await listManifests(inst)).map((m) => [m.id, m]));
  for (const id of names) {
    if (!isValidId(id) || journal?.manifestId === id) continue;
    const dir = path.join(inst.paths.snapshots, id);
    if (id.startsWith(PRUNED_PREFIX)) {
      out.push(id); // retention was killed between moving it aside and deleting it
      continue;
    }
    const hasStageFiles = (await lstatOrNull(path.join(dir, "package.zip"))) || (await lstatOrNull(path.join(dir, "package")));
    const m = manifests.get(id);
    if (m && ((await lstatOrNull(path.join(dir, ".swap"))) || (await lstatOrNull(path.join(dir, ".cleared"))))) {
      out.push(id); // a swap whose journal is gone left its scratch folders
      continue;
    }
    if (!m) {
      // A stage killed before its manifest: it holds nothing but what staging writes.
      const names = await fsp.readdir(dir).catch(() => null);
      if (hasStageFiles || names?.every((n) => STAGE_NAMES.has(n))) out.push(id);
      continue;
    }
    // Any of what finalize (or a failed attempt's cleanup) removes, left because it was killed part-way.
    const failedAttempt = m.status === "failed" || m.status === "restored";
    let left = m.status === "staged";
    for (const n of stagedLeftoverNames(failedAttempt)) left ||= (await lstatOrNull(path.join(dir, n))) !== null;
    if (left) out.push(id);
  }
  return out;
}

/** write-file-atomic leaves `journal.json.<n>` if killed mid-write: never a journal, always safe to drop. */
async function removeStrayJournalTemps(inst: Installation): Promise<void> {
  const base = path.basename(inst.paths.journal);
  for (const n of await fsp.readdir(inst.paths.gpmDir).catch(() => [] as string[])) {
    if (n.startsWith(base + ".")) await fsp.rm(path.join(inst.paths.gpmDir, n), { force: true });
  }
}

