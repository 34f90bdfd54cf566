import type { Installation } from "../install/installation.js";
import { installedVersion, readMetadata, STRUCTURE_VERSION } from "../install/installation.js";
import { readLock, isLive } from "../install/lock.js";
import { readJournal } from "../txn/journal.js";
import { listManifests, snapshotDir, type Manifest } from "../store/manifest.js";
import { readJsonIfExists, treeSize } from "../util/fsx.js";
import { readRecoveryFlag } from "../recovery-mode/flag.js";
import { manifestsWithSource } from "../store/way-back.js";

export interface StatusReport {
  root: string;
  installed: string | null;
  structureVersion: number;
  structureCurrent: number;
  lastUpgrade: { id: string; from: string | null; to: string; at: string | null; status: string } | null;
  pendingTransaction: { kind: string; manifestId: string; phase: string; pid: number; createdAt: string } | null;
  lock: { pid: number; host: string; since: string; command: string } | null;
  maintenance: Record<string, unknown> | null;
  recovery: { reason: string; createdAt: string; manifest: string | null; quarantined: string[] } | null;
}

export async function readStatus(inst: Installation): Promise<StatusReport> {
  const meta = await readMetadata(inst);
  const manifests = await listManifests(inst);
  const last = [...manifests].reverse().find((m) => m.status === "finalized" || m.status === "swapped") ?? null;
  const j = await readJournal(inst).catch(() => undefined);
  const lock = await readLock(inst);
  const flag = await readRecoveryFlag(inst);
  return {
    root: inst.root,
    installed: await installedVersion(inst),
    structureVersion: meta?.structure_version ?? 0,
    structureCurrent: STRUCTURE_VERSION,
    lastUpgrade: last && { id: last.id, from: last.from, to: last.to, at: last.finishedAt, status: last.status },
    pendingTransaction: j ? { kind: j.kind, manifestId: j.manifestId, phase: j.phase, pid: j.pid, createdAt: j.createdAt } : null,
    // The lock this very command took to repair an interrupted run is not "held by" anyone else.
    lock: lock && isLive(lock) && lock.pid !== process.pid ? { pid: lock.pid, host: lock.host, since: lock.startedAt, command: lock.command } : null,
    maintenance: (await readJsonIfExists<Record<string, unknown>>(inst.paths.maintenanceFlag).catch(() => ({ unreadable: true }))) ?? null,
    recovery: flag && { reason: flag.reason, createdAt: flag.createdAt, manifest: flag.manifest, quarantined: flag.quarantined },
  };
}

export interface SnapshotRow {
  id: string;
  kind: string;
  from: string | null;
  to: string;
  date: string;
  status: Manifest["status"];
  size: number;
  downtimeMs: number | null;
  /** Kept from retention (`gpm snapshots pin`, or it holds the user/ a rollback --with-user replaced). */
  pinned: boolean;
  /** The live tree came from this snapshot (the upgrade that installed it, or the rollback that put it back). */
  liveSource: boolean;
}

export async function listSnapshots(inst: Installation): Promise<SnapshotRow[]> {
  const rows: SnapshotRow[] = [];
  const { manifests, source } = await manifestsWithSource(inst, await installedVersion(inst));
  for (const m of manifests) {
    const { bytes } = await treeSize(snapshotDir(inst, m.id));
    rows.push({ id: m.id, kind: m.kind, from: m.from, to: m.to, date: m.createdAt, status: m.status, size: bytes, downtimeMs: m.downtimeMs, pinned: m.pinned, liveSource: m === source });
  }
  return rows;
}
