import { removeEmptyStateDir } from "../web/state-dirs.js";
import { prepareInflightLock, INFLIGHT_LOCK } from "../web/guard.js";
import fsp from "node:fs/promises";
import path from "node:path";
import { exists } from "../util/fsx.js";
import { versioning } from "../util/version.js";
import { paint } from "../util/color.js";
import type { Installation } from "../install/installation.js";
import { requireInstalledVersion } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { withRunLog } from "../util/log.js";
import type { ProgressFactory } from "../util/progress.js";
import { blocked } from "../util/errors.js";
import { abortRequested, checkAbort } from "../util/signals.js";
import { releasesBetween } from "../stage/feed.js";
import { currentManifest, type Manifest } from "../store/manifest.js";
import { snapshotPaths } from "../store/paths.js";
import { stageRelease, discardStage } from "../stage/stage.js";
import { runPreflight, blockingFailures } from "../preflight/index.js";
import type { CheckResult } from "../preflight/types.js";
import { readRecoveryFlag } from "../recovery-mode/flag.js";
import { promoteStage } from "../promote/promote.js";
import { entryChanges, type EntryChanges } from "../promote/plan.js";
import { resolveRelease } from "./resolve-release.js";
import { checkVersionPolicy } from "../preflight/version-policy.js";
import type { FeedInfo } from "../stage/feed-trust.js";

export interface SelfUpgradeOptions {
  version?: string | undefined;
  dryRun?: boolean;
  force?: boolean;
  allowDowngrade?: boolean;
  ignoreCheck?: string[];
  log: Logger;
  progress: ProgressFactory;
}

export type SelfUpgradeOutcome =
  | { action: "up-to-date"; installed: string }
  | { action: "dry-run"; installed: string; target: string; checks: CheckResult[]; files: { count: number; bytes: number }; core: string[]; changes: EntryChanges }
  | { action: "upgraded"; installed: string; target: string; checks: CheckResult[]; manifest: Manifest };

export interface CheckOutcome {
  installed: string;
  latest: string;
  /** The package file of the latest release (the GitHub asset assetPattern chose). */
  asset: string | null;
  updateAvailable: boolean;
  releases: { version: string; date: string | null; channel: string; changelog: string }[];
  /** The feed's own `version` and `expires` (feed trust), null when it carries none. */
  feed: FeedInfo;
}

/** `self-upgrade --check`: installed vs available and the changelog in between. Changes nothing. */
export async function checkForUpdate(inst: Installation, o: { version?: string | undefined; log: Logger }): Promise<CheckOutcome> {
  const installed = await requireInstalledVersion(inst);
  const { releases, release, feed } = await resolveRelease(inst, o.version, o.log, false);
  const v = versioning(inst.config.versionScheme);
  const newer = v.gt(release.version, installed);
  const between = newer ? releasesBetween(releases, installed, release.version, { channel: inst.config.channel, versions: v }) : [];
  return {
    installed,
    latest: release.version,
    asset: release.asset ?? null,
    updateAvailable: newer,
    releases: between.map((r) => ({ version: r.version, date: r.date, channel: r.channel, changelog: r.changelog })),
    feed,
  };
}

/**
 * The pipeline of SPEC section 5 after lock and recovery (the session did
 * those): version policy, preflight, stage (nothing live touched), then
 * promote + finalize through the transaction layer.
 */
export async function selfUpgrade(inst: Installation, o: SelfUpgradeOptions): Promise<SelfUpgradeOutcome> {
  const installed = await requireInstalledVersion(inst);
  const flag = await readRecoveryFlag(inst);
  if (flag) throw blocked(`the installation is in recovery mode (${flag.reason})`, "roll back or repair it, then `gpm recovery clear`");

  const { release } = await resolveRelease(inst, o.version, o.log);
  const policy = checkVersionPolicy(inst, installed, release.version, Boolean(o.allowDowngrade));
  if (policy.cmp === 0) return { action: "up-to-date", installed };
  if (policy.status === "fail") throw blocked(policy.message, policy.fix ?? undefined);

  const checks = await runPreflight({ inst, release, log: o.log, installed });
  const failures = blockingFailures(checks, { ignore: o.ignoreCheck ?? [], force: Boolean(o.force) });
  if (failures.length) {
    const first = failures[0]!;
    throw blocked(
      `preflight failed: ${failures.map((f) => f.id).join(", ")} — ${first.message}`,
      first.fix ?? "fix the failing checks (see `gpm preflight`), or --ignore-check ID",
      { checks, lines: checks.map(formatCheck) },
    );
  }
  for (const w of checks.filter((c) => c.status === "warn")) o.log.warn({ check: w.id }, `${w.id}: ${w.message}`);
  if (o.force) for (const f of checks.filter((c) => c.status === "fail")) o.log.warn({ check: f.id }, `--force: ignoring failed check ${f.id}: ${f.message}`);

  const storeExisted = await exists(inst.paths.snapshots);
  const gpmDirExisted = await exists(inst.paths.gpmDir);
  const lockPath = path.join(inst.paths.gpmDir, INFLIGHT_LOCK);
  const lockExisted = await exists(lockPath);
  // A dry run, a refused archive or an interrupt leaves nothing: not an empty snapshot store, nor
  // the in-flight lock (or the .gpm/ that holds only it) made for this run below.
  const dropEmptyStore = async (): Promise<void> => {
    if (!storeExisted) await removeEmptyStateDir(inst.paths.snapshots);
    if (!lockExisted) await fsp.rm(lockPath, { force: true }).catch(() => undefined);
    if (!gpmDirExisted) await removeEmptyStateDir(inst.paths.gpmDir);
  };
  // The guard's in-flight lock exists before staging (not for a dry run, which leaves nothing): a
  // request can only be drained if it began after the lock did, and staging outlasts any request.
  if (!o.dryRun) await prepareInflightLock(inst);
  const stage = await stageRelease(inst, release, { from: installed, log: o.log, progress: o.progress }).catch(async (err: unknown) => {
    await dropEmptyStore();
    throw err;
  });
  const previousCore = (await currentManifest(inst, installed))?.core ?? [];
  if (o.dryRun) {
    const changes = await entryChanges(inst, stage.entries, previousCore);
    await discardStage(inst, stage);
    await dropEmptyStore();
    return { action: "dry-run", installed, target: release.version, checks, files: stage.manifest.files, core: [...changes.added, ...changes.replaced, ...changes.removed].sort(), changes };
  }
  if (abortRequested()) {
    // SIGINT/SIGTERM while staging: nothing live was touched, so clean up instead of promoting.
    await discardStage(inst, stage);
    await dropEmptyStore();
    checkAbort();
  }
  const log = withRunLog(o.log, snapshotPaths(inst, stage.id).log);
  log.info({ from: installed, to: release.version, id: stage.id }, `promoting ${release.version}`);
  const manifest = await promoteStage(inst, stage, { log, previousCore });
  log.info({ id: manifest.id, downtimeMs: manifest.downtimeMs }, `upgraded ${installed} → ${manifest.to}`);
  return { action: "upgraded", installed, target: release.version, checks, manifest };
}

export function formatCheck(c: CheckResult): string {
  const word = { pass: paint.green, warn: paint.yellow, fail: paint.red }[c.status](c.status.padEnd(4));
  return `${word}  ${c.id.padEnd(20)} ${c.message}${c.fix && c.status !== "pass" ? `\n      fix: ${c.fix}` : ""}`;
}
