import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { GpmError, Exit, errorMessage } from "../util/errors.js";
import { abortRequested, AbortedError } from "../util/signals.js";
import { killPoint } from "../util/seams.js";
import { writeManifest, type Manifest } from "../stage/manifest.js";
import { beginTransaction, raiseMaintenanceFlag, applyMoves, setPhase, undoTransaction } from "../txn/transaction.js";
import { writeJournal, rel, type Journal } from "../txn/journal.js";
import { planUpgrade } from "./plan.js";
import { smokeCheck, checkStagedFiles, type SmokeResult } from "./smoke.js";
import { runProcess, describeFailure } from "./run-process.js";
import { finalizeUpgrade, removeStagedLeftovers } from "./finalize.js";
import { keepOwnership } from "./ownership.js";
import { restoreUserAfterPostUpgrade } from "../txn/restore-user.js";
import { enterRecoveryMode } from "../recovery/enter.js";
import { protectStateDirs } from "../web/state-dirs.js";
import { writeGuardFile, drainRequests } from "../web/guard.js";

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

  const plan = await planUpgrade(inst, { snapshotDir: stage.dir, packageEntries: stage.entries, previousCore: o.previousCore });
  await keepOwnership(inst, plan.moves);
  await checkStagedFiles(path.join(stage.dir, "package"), plan.core, path.join(stage.dir, "files.json"));
  m.core = plan.core;
  await writeManifest(inst, m);
  timings.plan = Date.now() - t;
  killPoint("promote:planned");

  await protectStateDirs(inst);
  await writeGuardFile(inst);
  t = Date.now();
  const j = await beginTransaction(inst, {
    kind: "upgrade",
    manifestId: m.id,
    moves: plan.moves,
    maintenanceFlag: rel(inst, inst.paths.maintenanceFlag),
    from: m.from,
    to: m.to,
  });
  timings.journal = Date.now() - t;

  let smoke: SmokeResult | null = null;
  try {
    const onAt = await raiseMaintenanceFlag(inst, j, { startedAt: new Date().toISOString(), pid: process.pid, from: m.from, to: m.to });
    j.meta.maintenanceOnAt = new Date(onAt).toISOString();
    t = Date.now();
    await drainRequests(inst, log);
    timings.drain = Date.now() - t;
    t = Date.now();
    await applyMoves(inst, j, log);
    timings.swap = Date.now() - t;
    log.info({ moves: plan.moves.length, core: plan.core }, `swapped ${plan.core.length} core entries in ${timings.swap} ms`);

    if (inst.config.postUpgrade) await runPostUpgrade(inst, j, inst.config.postUpgrade, timings, log);

    t = Date.now();
    // An entry moved across devices is a copy: it has the copy's identity (journaled in j.copies).
    const installed = j.moves.flatMap((mv, i) => (mv.from.startsWith(`${rel(inst, stage.dir)}/package/`) ? [{ ...mv, ...j.copies[String(i)] }] : []));
    smoke = await smokeCheck(inst, { to: m.to, installed });
    timings.smoke = Date.now() - t;
    if (abortRequested()) throw new AbortedError(abortRequested()!);
    if (!smoke.ok) throw new SmokeFailed(smoke.reason ?? "smoke check failed");
    killPoint("promote:smoke-passed");
    await setPhase(inst, j, "committed");
  } catch (err) {
    throw await undoFailedPromote(inst, j, m, err, smoke, timings, log);
  }
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

/** Undo, record what happened, and turn the cause into the error the user sees. */
async function undoFailedPromote(
  inst: Installation,
  j: Journal,
  m: Manifest,
  cause: unknown,
  smoke: SmokeResult | null,
  timings: Record<string, number>,
  log: Logger,
): Promise<GpmError> {
  const reason = errorMessage(cause);
  log.error({ reason }, "promote failed; restoring the previous tree");
  const t = Date.now();
  try {
    await undoTransaction(inst, j, log, j.postUpgradeStarted ? () => restoreUserAfterPostUpgrade(inst, m.id, log) : undefined);
  } catch (undoErr) {
    await enterRecoveryMode(inst, { reason: `restore after a failed upgrade to ${m.to} failed: ${errorMessage(undoErr)} (cause: ${reason})`, manifest: m.id }, log);
    m.status = "failed";
    m.error = `${reason}; restore failed: ${errorMessage(undoErr)}`;
    await writeManifest(inst, m).catch(() => undefined);
    return new GpmError(Exit.RESTORE_FAILED, `upgrade to ${m.to} failed (${reason}) and restoring the previous tree failed: ${errorMessage(undoErr)}`, "the site is in recovery mode; follow docs/RECOVERY.md");
  }
  timings.restore = Date.now() - t;
  killPoint("promote:restored");
  m.status = cause instanceof SmokeFailed ? "restored" : "failed";
  m.error = reason;
  m.finishedAt = new Date().toISOString();
  m.timings = { ...m.timings, ...timings };
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

