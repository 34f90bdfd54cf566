/**
 * Safe extraction of a release zip (SPEC section 5, step 3; invariant 7).
 *
 * Two passes. First the whole central directory is read and every entry is
 * judged before a single byte is written: names (absolute, drive letter, `..`,
 * `.`, empty segments, backslashes, control characters), duplicates,
 * case/Unicode-normalization collisions, entries beneath a file or a symlink,
 * symlink targets (absolute, or resolving outside the tree, or through another
 * link), entry types, the file count and the declared sizes. Then the entries
 * are written, counting the bytes actually inflated (never trusting the sizes
 * the archive declares), hashing each file as it is written.
 *
 * This is the driver: zip-reader.ts reads the archive, extract-policy.ts
 * judges the entries (pure), extract-small.ts writes the small ones (on the
 * worker pool of util/worker-task.ts), zip-reader.ts streams the large ones.
 *
 * Speed: nearly every entry of a release is small, and is read, inflated,
 * checked, hashed and written synchronously in one go (SMALL_ENTRY_MAX);
 * only big ones are streamed. The loop gives the event loop a turn every
 * few milliseconds (signals, progress, the concurrent user/ copy).
 *
 * Any refusal is exit 6 with one line naming the entry and the reason, and the
 * destination folder is removed: nothing is left, nothing is written outside.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type yauzl from "yauzl";
import { GpmError, errnoCode, errorMessage, fail, integrity } from "../util/errors.js";
import { isInside } from "../util/fsx.js";
import type { Logger } from "../util/log.js";
import type { ProgressFactory } from "../util/progress.js";
import { Slices } from "../util/slices.js";
import { HINT, UnpackBudget, streamed, type SmallJob } from "./extract-entry.js";
import { checkEntryCount, checkLinkTarget, checkStructure, stripWrapper } from "./extract-policy.js";
import { writeFiles } from "./extract-small.js";
import { SLICE_MS, openZip, readLinkTarget, readPlan, stopIfAsked, type Planned } from "./zip-reader.js";

export { SMALL_ENTRY_MAX } from "./extract-entry.js";
export { unsafeNameReason } from "./extract-policy.js";

export interface ExtractOptions {
  /** Most entries (files, folders and links) the archive may hold. */
  maxFiles: number;
  /** Most bytes the files may inflate to, counted as written. */
  maxUnpackedBytes: number;
  progress: ProgressFactory;
  log: Logger;
  /** Stop early (the stage stops extraction when its concurrent user/ copy fails). */
  signal?: AbortSignal;
  /** Worker threads for the small entries (0: all on this thread); default by entry count and cores. */
  workers?: number;
}

export interface ExtractedFile {
  /** Relative to the destination, `/`-separated, after stripping a wrapping folder. */
  path: string;
  sha256: string;
  size: number;
  /** Permission bits as written (0o777 mask). */
  mode: number;
}

export interface ExtractResult {
  /** Regular files, sorted by path. */
  files: ExtractedFile[];
  /** Symlinks, sorted by path (their targets are known to stay inside the tree). */
  links: { path: string; target: string }[];
  /** Top-level names after stripping, sorted. */
  entries: string[];
  /** Bytes of all files, as actually written. */
  bytes: number;
}

/**
 * Extract `zip` into `destDir` (which must not exist, or be empty). Returns
 * every file with its sha256, size and mode, the links, the top-level names
 * and the bytes written.
 */
export async function extractArchive(zip: string, destDir: string, opts: ExtractOptions): Promise<ExtractResult> {
  await fsp.mkdir(path.dirname(destDir), { recursive: true });
  try {
    await fsp.mkdir(destDir);
  } catch (err) {
    if (errnoCode(err) !== "EEXIST") throw err;
    const st = await fsp.lstat(destDir);
    if (!st.isDirectory() || (await fsp.readdir(destDir)).length > 0) throw fail(`cannot extract into ${destDir}: it exists and is not an empty folder`);
  }
  let zf: yauzl.ZipFile | undefined;
  try {
    const opened = await openZip(zip);
    zf = opened.zf;
    return await extractInto(zf, opened.fd, destDir, opts);
  } catch (err) {
    zf?.close();
    await fsp.rm(destDir, { recursive: true, force: true });
    // A stop asked for from outside is rethrown as given, not judged as the archive's fault.
    if (err instanceof GpmError || (opts.signal?.aborted && err === opts.signal.reason)) throw err;
    const code = errnoCode(err);
    // An errno is the disk's fault (space, permissions); anything else came out of the archive.
    if (code?.startsWith("E")) throw fail(`extracting ${path.basename(zip)} failed: ${code} (${errorMessage(err)})`, "check free space and permissions of the snapshot folder");
    throw integrity(`corrupt archive ${path.basename(zip)}: ${errorMessage(err)}`, HINT);
  }
}

async function extractInto(zf: yauzl.ZipFile, fd: number, destDir: string, opts: ExtractOptions): Promise<ExtractResult> {
  checkEntryCount(zf.entryCount, opts.maxFiles);

  // Pass 1: read and judge the central directory, the whole plan, the links.
  const slices = new Slices(SLICE_MS);
  const stripped = stripWrapper(await readPlan(zf, opts));
  const plan = stripped.plan;
  if (stripped.wrapper !== null) opts.log.debug({ wrapper: stripped.wrapper }, "stripping the wrapping folder");
  const { dirs, links } = checkStructure(plan);
  for (const p of plan) {
    if (p.kind !== "link") continue;
    stopIfAsked(opts.signal);
    p.target = await readLinkTarget(zf, p);
    checkLinkTarget(p, links);
  }

  // Pass 2: write. Folders first (owner-writable until the end), then files, then links.
  const full = (segments: string[]): string => {
    const p = path.join(destDir, ...segments);
    if (!isInside(destDir, p) || p === destDir) throw integrity(`unsafe archive: ${segments.join("/")} resolves outside the destination`, HINT);
    return p;
  };
  for (const d of dirs) {
    await slices.tick();
    fs.mkdirSync(full(d.split("/")), { mode: 0o700 });
  }

  const fileCount = plan.filter((p) => p.kind !== "dir").length;
  const bar = opts.progress("extract", fileCount, "files");
  const budget = new UnpackBudget(opts.maxUnpackedBytes);
  const small: Planned[] = [];
  const large: Planned[] = [];
  for (const p of plan) if (p.kind === "file") (streamed(p.compressedSize, p.size) ? large : small).push(p);
  const jobs: SmallJob[] = small.map((p) => ({ offset: p.offset, compressedSize: p.compressedSize, size: p.size, crc32: p.crc32, method: p.method, name: p.name, dest: full(p.segments), mode: p.mode }));
  let done = 0;
  const progressed = (n: number): void => {
    done += n;
    bar.update(done);
  };
  try {
    const { small: smallDone, large: largeDone, workers } = await writeFiles(zf, fd, jobs, large.map((p) => ({ p, dest: full(p.segments) })), budget, opts, progressed);
    const files: ExtractedFile[] = [];
    for (const [i, p] of small.entries()) files.push({ path: p.segments.join("/"), ...smallDone[i]!, mode: p.mode });
    for (const [i, p] of large.entries()) files.push({ path: p.segments.join("/"), ...largeDone[i]!, mode: p.mode });
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const linkList: { path: string; target: string }[] = [];
    for (const p of plan) {
      if (p.kind !== "link") continue;
      stopIfAsked(opts.signal);
      await fsp.symlink(p.target!, full(p.segments));
      linkList.push({ path: p.segments.join("/"), target: p.target! });
      bar.update(++done);
    }
    // Folder modes last (deepest first), so a read-only folder was still writable while filling it.
    const dirModes = new Map(plan.filter((p) => p.kind === "dir").map((p) => [p.segments.join("/"), p.mode]));
    for (const d of [...dirs].reverse()) {
      await slices.tick();
      fs.chmodSync(full(d.split("/")), dirModes.get(d) ?? 0o755);
    }

    const entries = [...new Set(plan.map((p) => p.segments[0]!))].sort();
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    linkList.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    opts.log.debug({ files: files.length, links: linkList.length, bytes, workers }, "extracted");
    return { files, links: linkList, entries, bytes };
  } finally {
    bar.stop();
    zf.close();
  }
}
