import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { GpmError, Exit, errorMessage } from "../util/errors.js";
import { abortRequested, AbortedError } from "../util/signals.js";
import { killPoint } from "../util/seams.js";
import { writeManifest, type Manifest } from "../store/manifest.js";
import { runSwap, downtimeOf } from "../txn/run.js";
import { snapshotPaths } from "../store/paths.js";
import { writeJournal, rel, type Journal } from "../txn/journal.js";
import { planUpgrade } from "./plan.js";
import { smokeCheck, checkStagedFiles, type SmokeResult } from "./smoke.js";
import { runProcess, describeFailure } from "./run-process.js";
import { finalizeUpgrade, removeStagedLeftovers } from "./finalize.js";
import { keepOwnership } from "./ownership.js";
import { protectStateDirs } from "../web/state-dirs.js";
import { writeGuardFile } from "../web/guard.js";

/** What promote needs of a staged release (lib/stage's Stage satisfies it). */
export interface Staged {
  id: string;
  dir: string;
  manifest: Manifest;
  entries: string[];
}

class SmokeFailed extends Error {}

/**
 * Promote a staged release: the swap under the maintenance flag, postUpgrade,
 * the smoke check, then commit and finalize. Any failure before the commit
 * undoes the transaction with file operations alone (nothing of the new
 * release runs during undo) and reports why in one line: exit 4 for a failed
 * check, 130/143 for a signal, 1 otherwise; exit 7 if even the undo failed.
 */
export async function promoteStage(inst: Installation, stage: Staged, o: { log: Logger; previousCore: string[] }): Promise<Manifest> {
  const log = o.log;
  const m = stage.manifest;
  const timings: Record<string, number> = {};
  let t = Date.now();

  const plan = await planUpgrade(inst, { id: stage.id, packageEntries: stage.entries, previousCore: o.previousCore });
  await keepOwnership(inst, plan.moves);
  const sp = snapshotPaths(inst, m.id);
  await checkStagedFiles(sp.package, plan.core, sp.files);
  m.core = plan.core;
  await writeManifest(inst, m);
  timings.plan = Date.now() - t;
  killPoint("promote:planned");

  await protectStateDirs(inst);
  await writeGuardFile(inst);
  let smoke: SmokeResult | null = null;
  const j = await runSwap(inst, {
    kind: "upgrade",
    manifestId: m.id,
    moves: plan.moves,
    maintenanceFlag: rel(inst, inst.paths.maintenanceFlag),
    from: m.from,
    to: m.to,
    log,
    timings,
    beforeCommit: async (j) => {
      log.info({ moves: plan.moves.length, core: plan.core }, `swapped ${plan.core.length} core entries in ${timings.swap ?? 0} ms`);
      if (inst.config.postUpgrade) await runPostUpgrade(inst, j, inst.config.postUpgrade, timings, log);
      t = Date.now();
      // An entry moved across devices is a copy: it has the copy's identity (journaled in j.copies).
      const pkg = `${sp.rel.package}/`;
      const installed = j.moves.flatMap((mv, i) => (mv.from.startsWith(pkg) ? [{ ...mv, ...j.copies[String(i)] }] : []));
      // A check can take seconds: say so, or the screen sits on "swapped N core entries".
      if (inst.config.smokeCheck) log.info(`smoke check running… (at most ${inst.config.smokeCheck.timeoutSec ?? 60} s)`);
      smoke = await smokeCheck(inst, { to: m.to, installed });
      timings.smoke = Date.now() - t;
      if (abortRequested()) throw new AbortedError(abortRequested()!);
      if (!smoke.ok) throw new SmokeFailed(smoke.reason ?? "smoke check failed");
      killPoint("promote:smoke-passed");
    },
    failing: (cause) => {
      log.error({ reason: errorMessage(cause) }, "promote failed; restoring the previous tree");
      t = Date.now();
    },
    escalate: {
      reason: (cause, undoErr) => `restore after a failed upgrade to ${m.to} failed: ${undoErr} (cause: ${cause})`,
      message: (cause, undoErr) => `upgrade to ${m.to} failed (${cause}) and restoring the previous tree failed: ${undoErr}`,
      after: async (cause, undoErr) => {
        m.status = "failed";
        m.error = `${cause}; restore failed: ${undoErr}`;
        await writeManifest(inst, m).catch(() => undefined);
      },
    },
    undone: (cause, j) => {
      timings.restore = Date.now() - t;
      // The undo lowered the flag just now: maintenance on → off, as for a finished upgrade.
      m.downtimeMs = downtimeOf(j);
      return recordFailedPromote(inst, m, cause, smoke, timings, log);
    },
  });
  return finalizeUpgrade(inst, j, { log, timings, smoke: smokeRecord(smoke) });
}

async function runPostUpgrade(inst: Installation, j: Journal, argv: string[], timings: Record<string, number>, log: Logger): Promise<void> {
  // Journal first: from the moment the release's own code runs, undo must also put user/ back.
  j.postUpgradeStarted = true;
  await writeJournal(inst, j);
  killPoint("promote:post-upgrade-started");
  const t = Date.now();
  const timeoutMs = (inst.config.smokeCheck?.timeoutSec ?? 120) * 1000;
  const out = await runProcess(argv, { cwd: inst.root, timeoutMs, env: { GPM_POST_UPGRADE: "1" } });
  timings.postUpgrade = Date.now() - t;
  log.info({ exitCode: out.exitCode }, "postUpgrade finished");
  const why = describeFailure("postUpgrade", argv, out, timeoutMs);
  if (why) throw new SmokeFailed(why);
  killPoint("promote:post-upgrade-done");
}

function smokeRecord(s: SmokeResult | null): Manifest["smoke"] {
  return s && { command: s.command, exitCode: s.exitCode, output: s.output, healthUrl: s.healthUrl, status: s.status };
}

/** After the undo: record what happened, and turn the cause into the error the user sees. */
async function recordFailedPromote(inst: Installation, m: Manifest, cause: unknown, smoke: SmokeResult | null, timings: Record<string, number>, log: Logger): Promise<Error> {
  const reason = errorMessage(cause);
  killPoint("promote:restored");
  m.status = cause instanceof SmokeFailed ? "restored" : "failed";
  m.error = reason;
  m.finishedAt = new Date().toISOString();
  m.timings = { ...m.timings, ...timings };
  m.swapMs = timings.swap ?? null;
  m.smoke = smokeRecord(smoke);
  // Leftovers first: on a full disk that frees the space the record needs. The tree is
  // already restored, so a record that cannot be written is logged, not fatal (recovery
  // later removes the "staged" snapshot it leaves).
  await removeStagedLeftovers(inst, m.id, true);
  await writeManifest(inst, m).catch((err: unknown) => log.error({ err: errorMessage(err) }, `could not record the failed attempt in snapshots/${m.id}/manifest.json`));
  if (cause instanceof AbortedError) return cause;
  if (cause instanceof SmokeFailed) return new GpmError(Exit.SMOKE_FAILED, `${reason}; the previous tree was restored`, `see snapshots/${m.id}/manifest.json (smoke.output) and fix the release or smokeCheck`);
  if (cause instanceof GpmError) return new GpmError(cause.code, `${reason}; the previous tree was restored`, cause.hint);
  return new GpmError(Exit.ERROR, `promote failed: ${reason}; the previous tree was restored`, "nothing changed; see the log for details");
}

