import path from "node:path";
import type { Installation } from "../install/installation.js";
import { fail } from "../util/errors.js";
import { isSafeName } from "./names.js";

/**
 * The layout of one snapshot, `snapshots/<id>/`: every name gpm writes there is
 * spelled here once (stage, plan, promote, finalize, repair, rollback and the
 * user/ restore all ask this function).
 */
export interface SnapshotPaths {
  dir: string;
  manifest: string;
  /** The release archive (deleted at finalize). */
  archive: string;
  /** The release's tree, wrapping folder stripped; its core entries go live. */
  package: string;
  /** files.json: every file of the package as unpacked. */
  files: string;
  /** previous-files.json: every file of previous/ (the older tree) as the first rollback found it. */
  previousFiles: string;
  /** The copy of user/ made while staging. */
  user: string;
  /** The core entries an upgrade replaced (what a rollback puts back). */
  previous: string;
  /** clearOnPromote contents an upgrade moved aside (deleted at finalize). */
  cleared: string;
  /** Rollback scratch: the live core parked on its way into previous/. */
  swap: string;
  /** Rollback scratch: the live user/ parked on its way into user/. */
  swapUser: string;
  /** Rollback scratch: clearOnPromote contents of the tree going out. */
  swapCleared: string;
  /** Where undo after postUpgrade keeps the user/ it replaced. */
  userAfterFailure: string;
  /** For a linked user/: where its contents gather before they become userAfterFailure (lib/txn/restore-user.ts). */
  userAfterFailurePartial: string;
  /** Where undo of a failed upgrade puts top-level entries that appeared in the live tree during the attempt (a `vendor/` a script wrote). */
  appeared: string;
  /** The run's ndjson log. */
  log: string;
  /** The same paths relative to the root, POSIX separators: what a journal move names. */
  rel: { dir: string; package: string; previous: string; cleared: string; swap: string; swapUser: string; swapCleared: string; user: string; appeared: string };
}

const NAMES = {
  manifest: "manifest.json",
  archive: "package.zip",
  package: "package",
  files: "files.json",
  previousFiles: "previous-files.json",
  user: "user",
  previous: "previous",
  cleared: "cleared",
  swap: ".swap",
  swapUser: ".swap-user",
  swapCleared: ".cleared",
  userAfterFailure: "user-after-failure",
  userAfterFailurePartial: "user-after-failure.partial",
  appeared: "appeared",
  log: "log.ndjson",
} as const;

/** What staging writes into a snapshot before its manifest exists (repair removes such a folder). */
export const STAGE_NAMES: ReadonlySet<string> = new Set([NAMES.archive, NAMES.package, NAMES.files, NAMES.user, NAMES.log]);

/**
 * What a finished or undone upgrade no longer needs: the archive, what is left
 * of the package (its preserved entries, never swapped), the cleared cache
 * contents; for a failed attempt also previous/ and user/ (nothing to roll
 * back to). The snapshot proper (manifest, files.json, previous/, user/) stays
 * for rollback.
 */
export function stagedLeftoverNames(failedAttempt: boolean): string[] {
  return [NAMES.archive, NAMES.package, NAMES.cleared, ...(failedAttempt ? [NAMES.previous, NAMES.user] : [])];
}

/** A swap's scratch folders: once its journal is finished or undone they hold nothing but cache contents. */
export const SWAP_SCRATCH_NAMES: readonly string[] = [NAMES.swap, NAMES.swapUser, NAMES.swapCleared];

/** The folder of snapshot `id`; an id that could climb out of the store is refused first (invariant 7). */
export function snapshotDir(inst: Installation, id: string): string {
  if (!isSafeName(id)) throw fail(`"${id}" is not a manifest id`, "list them with `gpm snapshots`");
  return path.join(inst.paths.snapshots, id);
}

export function snapshotPaths(inst: Installation, id: string): SnapshotPaths {
  const dir = snapshotDir(inst, id);
  const relDir = path.relative(inst.root, dir).split(path.sep).join("/");
  const at = (n: string): string => path.join(dir, n);
  const r = (n: string): string => `${relDir}/${n}`;
  return {
    dir,
    manifest: at(NAMES.manifest),
    archive: at(NAMES.archive),
    package: at(NAMES.package),
    files: at(NAMES.files),
    previousFiles: at(NAMES.previousFiles),
    user: at(NAMES.user),
    previous: at(NAMES.previous),
    cleared: at(NAMES.cleared),
    swap: at(NAMES.swap),
    swapUser: at(NAMES.swapUser),
    swapCleared: at(NAMES.swapCleared),
    userAfterFailure: at(NAMES.userAfterFailure),
    userAfterFailurePartial: at(NAMES.userAfterFailurePartial),
    appeared: at(NAMES.appeared),
    log: at(NAMES.log),
    rel: {
      dir: relDir,
      package: r(NAMES.package),
      previous: r(NAMES.previous),
      cleared: r(NAMES.cleared),
      swap: r(NAMES.swap),
      swapUser: r(NAMES.swapUser),
      swapCleared: r(NAMES.swapCleared),
      user: r(NAMES.user),
      appeared: r(NAMES.appeared),
    },
  };
}
