import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { exists, readJsonIfExists } from "../util/fsx.js";
import { killPoint } from "../util/seams.js";
import { readManifest, writeManifest } from "../store/manifest.js";
import { readJournal } from "../txn/journal.js";
import { undoOrEscalate, undoExtraOf, downtimeOf } from "../txn/run.js";
import { finalizeUpgrade, removeStagedLeftovers } from "../promote/finalize.js";
import { PRUNED_PREFIX } from "../promote/retention.js";
import { finalizeRollback, removeSwapScratch } from "../rollback/finish.js";
import { readRecoveryFlag, writeRecoveryFlag } from "../recovery-mode/flag.js";
import { findLeftovers, removeStrayJournalTemps } from "./leftovers.js";
export interface RecoveryReport {
  /** One line: what was repaired. */
  summary: string;
  actions: string[];
}

/** When the maintenance flag still up was raised (its `startedAt`), or null. */
async function flagRaisedAt(inst: Installation): Promise<string | null> {
  const f = await readJsonIfExists<Record<string, unknown>>(inst.paths.maintenanceFlag).catch(() => undefined);
  return typeof f?.startedAt === "string" && Number.isFinite(Date.parse(f.startedAt)) ? f.startedAt : null;
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
      // The journal on disk may predate the flag's raise time (a kill during the moves): the flag itself says when.
      if (!j.meta.maintenanceOnAt) j.meta.maintenanceOnAt = await flagRaisedAt(inst);
      await undoOrEscalate(inst, j, {
        log,
        undoExtra: undoExtraOf(inst, j, log),
        escalate: {
          reason: (_cause, undoErr) => `undoing the interrupted ${what} failed: ${undoErr}`,
          message: (_cause, undoErr) => `could not undo the interrupted ${what}: ${undoErr}`,
        },
      });
      if (flag?.manifest === j.manifestId && !(await readRecoveryFlag(inst).catch(() => null))) await writeRecoveryFlag(inst, flag);
      if (j.kind === "upgrade") {
        const m = await readManifest(inst, j.manifestId);
        if (m) {
          m.status = "failed";
          m.error = `interrupted during promote (pid ${j.pid}); the previous tree was restored`;
          m.finishedAt = new Date().toISOString();
          // Maintenance on → off: the flag came down in the undo just made (the dead time counts, the site was down).
          if (m.downtimeMs === null) m.downtimeMs = downtimeOf(j);
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

