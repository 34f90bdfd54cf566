/**
 * The stage phase (SPEC section 5, step 3): everything slow happens here,
 * before the maintenance flag goes up, and all of it under
 * `snapshots/<id>/` (invariant 1):
 *
 *   package.zip   the download            files.json    path → {sha256, size, mode}
 *   package/      the extracted release   user/         copy of the live user/
 *   manifest.json status "staged"
 *
 * The user/ copy runs concurrently with download → verify → extract (it does
 * not depend on them); whichever fails first stops the other. On any failure
 * (an interrupt included) the whole `snapshots/<id>/` is removed and the
 * original error is rethrown. manifest.json is written last, after the stage
 * has been flushed to disk: a manifest means a complete stage.
 */
import { phpVersion } from "../util/php.js";
import os from "node:os";
import fsp from "node:fs/promises";
import path from "node:path";
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import type { Installation } from "../install/installation.js";
import { preservedNames } from "../install/installation.js";
import { errnoCode, fail } from "../util/errors.js";
import { isInside, writeJsonDurable } from "../util/fsx.js";
import type { Logger } from "../util/log.js";
import type { ProgressFactory } from "../util/progress.js";
import { checkAbort } from "../util/signals.js";
import { killPoint } from "../util/seams.js";
import { downloadRelease } from "./download.js";
import { protectStateDir } from "../web/state-dirs.js";
import { extractArchive, type ExtractResult } from "./extract.js";
import { missingSha256 } from "./feed.js";
import type { FileRecord } from "../store/files-record.js";
import { newManifestId, nextSeq, snapshotDir, writeManifest, type Manifest } from "../store/manifest.js";
import { snapshotPaths } from "../store/paths.js";
import { listPackages } from "./packages.js";
import { snapshotTree } from "./snapshot-user.js";
import { removeTree } from "../util/fsx.js";
import type { Release } from "./types.js";
import { verifyHash, verifySignature } from "./verify.js";
import { checkPackageIsRelease } from "./release-check.js";
import { versioning } from "../util/version.js";
import { giveOwner } from "../util/owner.js";

export interface Stage {
  id: string;
  /** `snapshots/<id>/` */
  dir: string;
  /** `snapshots/<id>/package/`: the release's tree, wrapping folder stripped. */
  packageDir: string;
  /** `snapshots/<id>/package.zip` */
  archive: string;
  manifest: Manifest;
  /** Top-level names of the package (core and preserved alike), sorted. */
  entries: string[];
}

export interface StageOptions {
  /** The installed version (manifest `from`). */
  from: string | null;
  log: Logger;
  progress: ProgressFactory;
  /** Use this manifest id instead of a new one (it must not exist yet). */
  id?: string;
}

const since = (t0: number): number => Math.round(performance.now() - t0);

export async function stageRelease(inst: Installation, release: Release, opts: StageOptions): Promise<Stage> {
  if (!release.sha256) throw missingSha256(release);
  await protectStateDir(inst.paths.snapshots);
  const id = opts.id ?? (await newManifestId(inst, release.version));
  const dir = snapshotDir(inst, id);
  try {
    await fsp.mkdir(dir);
    await giveOwner(dir);
  } catch (err) {
    if (errnoCode(err) === "EEXIST") throw fail(`snapshot ${id} already exists`, "pick another id or remove that snapshot");
    throw fail(`cannot create ${dir}: ${errnoCode(err) ?? err}`, "check permissions of the snapshot folder");
  }
  killPoint("stage:dir-created");
  try {
    return await stageInto(inst, release, opts, id, dir);
  } catch (err) {
    await removeTree(dir).catch((rmErr: unknown) => opts.log.error({ dir, err: rmErr }, "could not remove the failed stage"));
    throw err;
  }
}

async function stageInto(inst: Installation, release: Release, opts: StageOptions, id: string, dir: string): Promise<Stage> {
  const { log, progress } = opts;
  const createdAt = new Date().toISOString();
  const sp = snapshotPaths(inst, id);
  const archive = sp.archive;
  const packageDir = sp.package;
  const timings: Record<string, number> = {};
  const limits = inst.config.limits;

  // Whichever branch fails first stops the other, and its error is the one reported.
  const stop = new AbortController();
  let firstError: unknown;
  const noteFailure = (err: unknown): never => {
    if (!stop.signal.aborted) {
      firstError = err;
      stop.abort(err);
    }
    throw err;
  };

  const packageBranch = (async (): Promise<{ ex: ExtractResult; size: number }> => {
    let t = performance.now();
    log.info({ version: release.version, url: release.url }, "downloading");
    const got = await downloadRelease(release, archive, { maxBytes: limits.maxDownloadBytes, progress, log, signal: stop.signal, stallMs: limits.stallTimeoutSec * 1000 });
    timings.download = since(t);
    killPoint("stage:downloaded");
    t = performance.now();
    verifyHash(release.sha256, got.sha256);
    verifySignature(release, got.sha256, inst.config.publicKey);
    timings.verify = since(t);
    t = performance.now();
    const ex = await extractArchive(archive, packageDir, {
      maxFiles: limits.maxFiles,
      maxUnpackedBytes: limits.maxUnpackedBytes,
      progress,
      log,
      signal: stop.signal,
    });
    await checkPackageIsRelease(inst, packageDir, release.version, versioning(inst.config.versionScheme));
    const index: FileRecord = {};
    for (const f of ex.files) index[f.path] = { sha256: f.sha256, size: f.size, mode: f.mode };
    await writeJsonDurable(sp.files, index);
    killPoint("stage:extracted");
    timings.extract = since(t);
    log.info({ files: ex.files.length, bytes: ex.bytes }, "package verified and extracted");
    return { ex, size: got.size };
  })().catch(noteFailure);

  // A first flush starts as soon as the user/ copy is done, while the
  // extraction still runs: the disk writes the copy (and what is unpacked so
  // far) meanwhile, and the flush before the manifest has less left to do.
  let earlyFlush: Promise<void> = Promise.resolve();
  const userBranch = (async (): Promise<void> => {
    const t = performance.now();
    const exclude = isInside(inst.paths.user, inst.paths.snapshots) ? [inst.paths.snapshots] : [];
    const copied = await snapshotTree(inst.paths.user, sp.user, { progress, log, signal: stop.signal, exclude });
    timings.snapshot = since(t);
    killPoint("stage:user-copied");
    log.info(copied, "user/ copied to the snapshot");
    earlyFlush = flushToDisk(dir, log);
  })().catch(noteFailure);

  const [pkg] = await Promise.allSettled([packageBranch, userBranch]);
  // Never leave a sync running behind a failure: the caller removes this folder next.
  await earlyFlush;
  if (firstError !== undefined) throw firstError;
  if (pkg.status !== "fulfilled") throw pkg.reason;
  const { ex, size } = pkg.value;
  checkAbort();

  let t = performance.now();
  await flushToDisk(dir, log);
  timings.flush = since(t);
  killPoint("stage:flushed");

  t = performance.now();
  const [php, packages] = await Promise.all([phpVersionOrNull(log), listPackages(inst)]);
  const preservedSet = preservedNames(inst);
  const manifest: Manifest = {
    id,
    seq: await nextSeq(inst),
    pinned: false,
    kind: "upgrade",
    from: opts.from,
    to: release.version,
    createdAt,
    finishedAt: null,
    status: "staged",
    package: { url: release.url, sha256: release.sha256.toLowerCase(), size, asset: release.asset ?? null },
    runtime: { node: process.version, php, os: `${os.platform()} ${os.release()}` },
    packages: packages.map((p) => ({ name: p.name, version: p.version, enabled: p.enabled })),
    core: ex.entries.filter((e) => !preservedSet.has(e)).sort(),
    preserved: [...preservedSet].sort(),
    files: { count: ex.files.length, bytes: ex.bytes },
    timings,
    downtimeMs: null,
    smoke: null,
    error: null,
    swaps: [],
  };
  timings.manifest = since(t);
  checkAbort();
  await writeManifest(inst, manifest);
  killPoint("stage:manifest-written");
  return { id, dir, packageDir, archive, manifest, entries: ex.entries };
}

/** Remove a stage that will not be promoted (`--dry-run`, or a refused upgrade). */
export async function discardStage(inst: Installation, stage: Stage): Promise<void> {
  const dir = snapshotDir(inst, stage.id);
  if (path.resolve(stage.dir) !== dir || !isInside(inst.paths.snapshots, dir) || dir === inst.paths.snapshots) {
    throw fail(`refusing to remove ${stage.dir}: not the snapshot folder of ${stage.id}`);
  }
  await removeTree(dir);
}

/** The application's PHP version for the manifest, or null when php is absent or fails. Never throws. */
async function phpVersionOrNull(log: Logger): Promise<string | null> {
  const php = await phpVersion();
  if (php.kind !== "ok") log.debug({ php: php.kind === "error" ? php.message : "missing" }, "php not available");
  return php.kind === "ok" ? php.raw : null;
}

/**
 * Flush the stage to disk before its manifest says it is complete: promote
 * renames these files into the live tree, and a power cut after that must
 * not leave files whose data never reached the disk. One `sync -f` (syncfs of
 * the snapshot's file system) instead of an fsync per file: 20k fsyncs would
 * cost seconds, this costs one flush, before any downtime. Best effort: where
 * `sync` is missing it is logged and skipped.
 */
function flushToDisk(dir: string, log: Logger): Promise<void> {
  const args = os.platform() === "linux" ? ["-f", dir] : [];
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn("sync", args, { stdio: "ignore" });
    } catch (err) {
      log.debug({ err: String(err) }, "sync could not be started; stage not flushed");
      resolve();
      return;
    }
    // Our own timer, not spawn's `timeout` option: Node leaves that timer
    // running when the spawn fails (ENOENT: no sync), which kept the process
    // alive for the whole timeout after it had finished (as in phpVersion).
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    timer.unref();
    child.on("error", (err) => {
      clearTimeout(timer);
      log.debug({ err: err.message }, "sync not available; stage not flushed");
      resolve();
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) log.debug({ code }, "sync failed; stage not flushed");
      resolve();
    });
  });
}
