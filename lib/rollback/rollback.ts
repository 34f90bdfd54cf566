import fsp from "node:fs/promises";
import type { Installation } from "../install/installation.js";
import { installedVersion } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { fail, blocked, GpmError, errorMessage } from "../util/errors.js";
import { listManifests, requireManifest, type Manifest } from "../store/manifest.js";
import { snapshotPaths } from "../store/paths.js";
import { runSwap } from "../txn/run.js";
import { rel } from "../txn/journal.js";
import { planSwap } from "./plan.js";
import { hashPrevious, writePreviousRecord } from "../store/live-record.js";
import { finalizeRollback, removeSwapScratch } from "./finish.js";
export interface RollbackResult {
  manifest: Manifest;
  /** The version that is live after the swap. */
  live: string | null;
  /** "rollback" when the snapshot's older tree went live, "redo" when its newer one did. */
  direction: "rollback" | "redo";
  downtimeMs: number;
  /** user/ was swapped too (--with-user); the snapshot holding the replaced user/ is then pinned. */
  withUser: boolean;
  /** Quarantined plugins disabled again after user/config came back from the snapshot. */
  requarantined: string[];
}

/**
 * Swap the live core with snapshot `id`'s — by default the newest one not
 * already swapped. user/ stays live (content written since the upgrade is
 * never hidden) unless `withUser`, which swaps it too and pins the snapshot
 * that then holds the replaced user/. A swap, not a restore: the tree it
 * replaces goes into the snapshot, so the same id again is a redo and nothing
 * is ever lost. Journaled through lib/txn like an upgrade.
 */
export async function rollback(inst: Installation, id: string | undefined, o: { log: Logger; withUser?: boolean }): Promise<RollbackResult> {
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
  const sp = snapshotPaths(inst, m.id);
  if (!(await fsp.stat(sp.previous).catch(() => null))) throw fail(`snapshot ${m.id} has no previous/ tree`, "it cannot be swapped; see docs/RECOVERY.md");

  const withUser = o.withUser === true;
  if (withUser) {
    if ((await fsp.lstat(inst.paths.user).catch(() => null))?.isSymbolicLink()) {
      throw fail(`--with-user: ${inst.paths.user} is a symbolic link`, "gpm keeps a linked user/ as it is; roll back without --with-user and copy what you need from the snapshot's user/");
    }
    if (!(await fsp.lstat(sp.user).catch(() => null))?.isDirectory()) throw fail(`--with-user: snapshot ${m.id} holds no user/`, "roll back without --with-user");
  }
  // What goes live is previous/ as it is now: hashed before the swap, kept once it is committed, for `gpm verify` (lib/store/live-record.ts).
  const previousRecord = direction === "rollback" ? await hashPrevious(inst, m) : null;
  const moves = await planSwap(inst, m, { withUser });
  const j = await runSwap(inst, {
    kind: "rollback",
    manifestId: m.id,
    moves,
    maintenanceFlag: rel(inst, inst.paths.maintenanceFlag),
    from: live,
    to: goingLive,
    flag: { rollback: m.id },
    log: o.log,
    escalate: {
      reason: (_cause, undoErr) => `rollback of ${m.id} failed and could not be undone: ${undoErr}`,
      message: (cause, undoErr) => `rollback of ${m.id} failed (${cause}) and undoing it failed: ${undoErr}`,
    },
    undone: async (err) => {
      await removeSwapScratch(inst, m.id);
      if (err instanceof GpmError) return err;
      return fail(`rollback of ${m.id} failed: ${errorMessage(err)}; nothing changed`, "see the log for details");
    },
  });
  await writePreviousRecord(inst, m, previousRecord);
  const done = await finalizeRollback(inst, j, o.log);
  return { manifest: done.manifest, live: goingLive, direction, downtimeMs: done.downtimeMs, withUser: done.withUser, requarantined: done.requarantined };
}

async function newestUnswapped(inst: Installation): Promise<Manifest> {
  const m = (await listManifests(inst)).filter((x) => x.status === "finalized").pop();
  if (!m) throw fail("there is no finalized snapshot to roll back to", "list them with `gpm snapshots`");
  return m;
}

