import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { installedVersion, updateMetadata } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { fail, blocked, GpmError, Exit, errorMessage } from "../util/errors.js";
import { killPoint } from "../util/seams.js";
import { removeTree } from "../util/fsx.js";
import { listManifests, requireManifest, snapshotDir, writeManifest, readManifest, type Manifest } from "../stage/manifest.js";
import { drainRequests } from "../web/guard.js";
import { beginTransaction, raiseMaintenanceFlag, applyMoves, setPhase, undoTransaction, lowerMaintenanceFlag, endTransaction, planMove } from "../txn/transaction.js";
import { rel, type Journal, type Move } from "../txn/journal.js";
import { identify } from "../txn/fs-ops.js";
import { mirrorRecords } from "../promote/records.js";
import { enterRecoveryMode } from "./enter.js";

export interface RollbackResult {
  manifest: Manifest;
  /** The version that is live after the swap. */
  live: string | null;
  /** "rollback" when the snapshot's older tree went live, "redo" when its newer one did. */
  direction: "rollback" | "redo";
  downtimeMs: number;
}

/**
 * Swap the live tree (core entries and user/) with snapshot `id` — by default
 * the newest one not already swapped. A swap, not a restore: the tree it
 * replaces goes into the snapshot, so the same id again is a redo and nothing
 * is ever lost. Journaled through lib/txn like an upgrade.
 */
export async function rollback(inst: Installation, id: string | undefined, o: { log: Logger }): Promise<RollbackResult> {
  const m = id === undefined ? await newestUnswapped(inst) : await requireManifest(inst, id);
  if (m.status !== "finalized" && m.status !== "swapped") {
    throw fail(`snapshot ${m.id} is ${m.status}: only a finalized or swapped snapshot holds a whole tree`, "list them with `gpm snapshots`");
  }
  const direction = m.status === "finalized" ? "rollback" : "redo";
  const expectLive = direction === "rollback" ? m.to : m.from;
  const goingLive = direction === "rollback" ? m.from : m.to;
  const live = await installedVersion(inst);
  if (live !== expectLive) {
    throw blocked(
      `snapshot ${m.id} swaps ${m.from ?? "?"} and ${m.to}, but ${live ?? "an unknown version"} is live (expected ${expectLive})`,
      "roll back or redo the snapshots in order (see `gpm snapshots`)",
    );
  }
  const dir = snapshotDir(inst, m.id);
  if (!(await fsp.stat(path.join(dir, "previous")).catch(() => null))) throw fail(`snapshot ${m.id} has no previous/ tree`, "it cannot be swapped; see docs/RECOVERY.md");

  const moves = await planSwap(inst, m, dir);
  const j = await beginTransaction(inst, { kind: "rollback", manifestId: m.id, moves, maintenanceFlag: rel(inst, inst.paths.maintenanceFlag), from: live, to: goingLive });
  let onAt = Date.now();
  try {
    onAt = await raiseMaintenanceFlag(inst, j, { startedAt: new Date(onAt).toISOString(), pid: process.pid, from: live, to: goingLive, rollback: m.id });
    j.meta.maintenanceOnAt = new Date(onAt).toISOString();
    await drainRequests(inst, o.log);
    await applyMoves(inst, j, o.log);
    await setPhase(inst, j, "committed");
  } catch (err) {
    try {
      await undoTransaction(inst, j, o.log);
    } catch (undoErr) {
      await enterRecoveryMode(inst, { reason: `rollback of ${m.id} failed and could not be undone: ${errorMessage(undoErr)}`, manifest: m.id }, o.log);
      throw new GpmError(Exit.RESTORE_FAILED, `rollback of ${m.id} failed (${errorMessage(err)}) and undoing it failed: ${errorMessage(undoErr)}`, "the site is in recovery mode; follow docs/RECOVERY.md");
    }
    await removeSwapScratch(inst, m.id);
    if (err instanceof GpmError) throw err;
    throw fail(`rollback of ${m.id} failed: ${errorMessage(err)}; nothing changed`, "see the log for details");
  }
  const done = await finalizeRollback(inst, j, o.log);
  return { manifest: done.manifest, live: goingLive, direction, downtimeMs: done.downtimeMs };
}

async function newestUnswapped(inst: Installation): Promise<Manifest> {
  const m = (await listManifests(inst)).filter((x) => x.status === "finalized").pop();
  if (!m) throw fail("there is no finalized snapshot to roll back to", "list them with `gpm snapshots`");
  return m;
}

/**
 * Three moves per entry, so that no rename ever lands on an occupied name:
 * live X -> <snap>/.swap/X, <snap>/previous/X -> X, then <snap>/.swap/X ->
 * <snap>/previous/X. user/ the same way with <snap>/user. Cache contents go
 * to <snap>/.cleared/ (they belong to the other release) and are deleted at
 * the end.
 */
async function planSwap(inst: Installation, m: Manifest, dir: string): Promise<Move[]> {
  const snap = rel(inst, dir);
  const names = new Set([...m.core, ...(await fsp.readdir(path.join(dir, "previous")))]);
  const pairs: [live: string, stored: string, parked: string][] = [...names].sort().map((n) => [n, `${snap}/previous/${n}`, `${snap}/.swap/${n}`]);
  pairs.push(["user", `${snap}/user`, `${snap}/.swap-user`]);
  await fsp.mkdir(path.join(dir, ".swap"), { recursive: true });

  const first: Move[] = [];
  const last: Move[] = [];
  for (const [live, stored, parked] of pairs) {
    const out = await planMove(inst, live, parked);
    const inn = await planMove(inst, stored, live);
    if (out) first.push(out);
    if (inn) first.push(inn);
    if (out) last.push({ ...out, from: parked, to: stored });
  }
  // The recovery flag lives inside a core folder by default (system/): it
  // describes the site, not a release, so it stays live across the swap.
  const flag = rel(inst, inst.paths.recoveryFlag);
  const flagId = names.has(flag.split("/")[0]!) ? await identify(inst.paths.recoveryFlag) : null;
  if (flagId) first.push({ from: `${snap}/.swap/${flag}`, to: flag, ...flagId });
  const cleared: Move[] = [];
  for (const c of inst.config.clearOnPromote) {
    if (names.has(c.split("/")[0]!)) continue;
    const names2 = await fsp.readdir(path.join(inst.root, c)).catch(() => [] as string[]);
    if (names2.length) await fsp.mkdir(path.join(dir, ".cleared", c), { recursive: true });
    for (const n of names2) {
      const mv = await planMove(inst, `${c}/${n}`, `${snap}/.cleared/${c}/${n}`, true);
      if (mv) cleared.push(mv);
    }
  }
  return [...first, ...cleared, ...last];
}

/**
 * Finish a committed swap; idempotent (recovery calls it too): the manifest's
 * status follows which tree is live, and the swap is recorded once (keyed by
 * the journal's createdAt).
 */
export async function finalizeRollback(inst: Installation, j: Journal, log: Logger): Promise<{ manifest: Manifest; downtimeMs: number }> {
  const m = await readManifest(inst, j.manifestId);
  if (!m) throw new Error(`manifest ${j.manifestId} vanished during rollback`);
  const goingLive = j.meta.to;
  await updateMetadata(inst, { installation_version: goingLive });
  killPoint("rollback:metadata-written");
  await lowerMaintenanceFlag(inst, j);
  const onAt = j.meta.maintenanceOnAt ? Date.parse(j.meta.maintenanceOnAt) : Date.now();
  const downtimeMs = Date.now() - onAt;
  killPoint("rollback:flag-lowered");
  m.status = goingLive === m.from ? "swapped" : "finalized";
  if (!m.swaps.some((s) => s.at === j.createdAt)) m.swaps.push({ at: j.createdAt, live: goingLive, downtimeMs });
  await writeManifest(inst, m);
  killPoint("rollback:manifest-written");
  await mirrorRecords(inst);
  killPoint("rollback:records-written");
  await endTransaction(inst);
  killPoint("rollback:journal-removed");
  await removeSwapScratch(inst, m.id);
  log.info({ id: m.id, live: goingLive, downtimeMs }, `swapped with snapshot ${m.id}: ${goingLive} is live`);
  return { manifest: m, downtimeMs };
}

/** A swap's scratch folders: once its journal is finished or undone they hold nothing but cache contents. */
export async function removeSwapScratch(inst: Installation, id: string): Promise<void> {
  const dir = snapshotDir(inst, id);
  for (const n of [".swap", ".swap-user", ".cleared"]) await removeTree(path.join(dir, n));
}
