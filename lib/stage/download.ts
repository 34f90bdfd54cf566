/**
 * Download a release archive to `dest`, streaming: each chunk is hashed,
 * counted against `limits.maxDownloadBytes` and written before the next is
 * read, so no archive is ever held in memory. A file:// release is copied the
 * same way (same hash, same limits, same progress), unless it can be linked
 * (see linkLocal).
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";
import { GpmError, errnoCode, errorMessage, fail, integrity } from "../util/errors.js";
import type { Logger } from "../util/log.js";
import type { ProgressFactory } from "../util/progress.js";
import { checkAbort } from "../util/signals.js";
import { Slices } from "../util/slices.js";
import { httpGet } from "./http.js";
import type { Release } from "./types.js";
import { giveOwner } from "../util/owner.js";

export interface DownloadOptions {
  maxBytes: number;
  progress: ProgressFactory;
  log: Logger;
  /** Stop early (the stage stops the download when its concurrent user/ copy fails). */
  signal?: AbortSignal;
  /** limits.stallTimeoutSec in ms: a transfer that delivers no byte for this long is abandoned. */
  stallMs?: number;
}

const HINT = "check the feed and your network, then try again";

function tooLarge(maxBytes: number): GpmError {
  return integrity(`download exceeds limits.maxDownloadBytes (${maxBytes} bytes)`, "raise limits.maxDownloadBytes in gpm.json if this release is really that large");
}

/**
 * Stream `release.url` into `dest` (created exclusively: never overwrites),
 * returning the sha256 and size of the bytes actually received. On any
 * failure the partial file is removed.
 */
export async function downloadRelease(release: Release, dest: string, opts: DownloadOptions): Promise<{ sha256: string; size: number }> {
  const url = new URL(release.url);
  const what = `download of ${release.url}`;
  let source: AsyncIterable<Uint8Array>;
  let declaredLength: number | null = null;
  let cancel: () => Promise<void>;
  if (url.protocol === "file:") {
    let file: string;
    try {
      file = fileURLToPath(url);
    } catch {
      throw fail(`${what}: not a local file URL`, HINT);
    }
    let st: fs.Stats;
    try {
      st = await fsp.stat(file);
    } catch (err) {
      throw fail(`${what} failed: ${errnoCode(err) ?? err}`, HINT);
    }
    if (!st.isFile()) throw fail(`${what} failed: not a file`, HINT);
    if (st.size > opts.maxBytes) throw tooLarge(opts.maxBytes);
    const linked = await linkLocal(file, dest, release, opts);
    if (linked) return linked;
    declaredLength = st.size;
    const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    source = stream;
    cancel = async () => void stream.destroy();
  } else if (url.protocol === "http:" || url.protocol === "https:") {
    const res = await httpGet(url.href, what, HINT, opts.stallMs === undefined ? {} : { stallMs: opts.stallMs });
    const len = res.headers.get("content-length");
    if (len !== null && /^\d+$/.test(len)) declaredLength = Number(len);
    source = res.chunks();
    cancel = () => res.cancel();
  } else {
    throw integrity(`unsafe release url: ${url.protocol} is not allowed`, "only http(s) and file URLs can be downloaded");
  }
  if (declaredLength !== null && declaredLength > opts.maxBytes) {
    await cancel();
    throw tooLarge(opts.maxBytes);
  }

  const total = declaredLength ?? release.size ?? 0;
  const bar = opts.progress("download", total, "bytes");
  const hash = crypto.createHash("sha256");
  let size = 0;
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dest, "wx", 0o644);
    const out = new BatchedWriter(fh);
    for await (const chunk of source) {
      checkAbort();
      if (opts.signal?.aborted) throw opts.signal.reason;
      size += chunk.byteLength;
      if (size > opts.maxBytes) throw tooLarge(opts.maxBytes);
      hash.update(chunk);
      bar.update(size);
      await out.push(chunk);
    }
    await out.end();
    await fh.close();
    fh = undefined;
    await giveOwner(dest);
    checkFeedSize(release, size);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await cancel().catch(() => undefined);
    if (err instanceof GpmError) {
      await fsp.rm(dest, { force: true });
      throw err;
    }
    // EEXIST: the file was someone else's; it is left alone.
    if (errnoCode(err) === "EEXIST") throw fail(`${dest} already exists`, "remove it or let gpm pick a new snapshot id");
    await fsp.rm(dest, { force: true });
    throw fail(`${what} failed: ${errnoCode(err) ?? errorMessage(err)}`, HINT);
  } finally {
    bar.stop();
  }
  const sha256 = hash.digest("hex");
  opts.log.debug({ url: release.url, size, sha256 }, "downloaded");
  return { sha256, size };
}

/**
 * Writes a stream of chunks (64 KiB each from a socket) in batches of
 * BATCH_BYTES, one writev in flight while the next batch fills: a write per
 * chunk through a stream pipeline (and its async generators) cost more CPU
 * than the hashing on the download's path, and the main thread is what the
 * download is bound by.
 */
const BATCH_BYTES = 1 << 20;
class BatchedWriter {
  private batch: Uint8Array[] = [];
  private bytes = 0;
  private inflight: Promise<void> | null = null;
  constructor(private readonly fh: fsp.FileHandle) {}
  async push(chunk: Uint8Array): Promise<void> {
    this.batch.push(chunk);
    this.bytes += chunk.byteLength;
    if (this.bytes >= BATCH_BYTES) await this.flush();
  }
  async end(): Promise<void> {
    await this.flush();
    await this.inflight;
    this.inflight = null;
  }
  private async flush(): Promise<void> {
    if (this.inflight !== null) await this.inflight;
    const batch = this.batch;
    this.batch = [];
    this.bytes = 0;
    this.inflight = batch.length === 0 ? null : writeAll(this.fh, batch);
    // Not awaited here: the next batch fills while this one is written. Its error surfaces at the next flush or at end().
    this.inflight?.catch(() => undefined);
  }
}

async function writeAll(fh: fsp.FileHandle, bufs: Uint8Array[]): Promise<void> {
  let rest = bufs;
  while (rest.length > 0) {
    let { bytesWritten } = await fh.writev(rest);
    // A short write (rare on a regular file): carry on from where it stopped.
    let i = 0;
    while (i < rest.length && bytesWritten >= rest[i]!.byteLength) bytesWritten -= rest[i++]!.byteLength;
    rest = rest.slice(i);
    if (bytesWritten > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(bytesWritten);
  }
}

function checkFeedSize(release: Release, size: number): void {
  if (release.size !== null && release.size !== size) {
    throw integrity(`download of ${release.version} is ${size} bytes, the feed says ${release.size}`, "the download is corrupt or was tampered with; nothing was installed");
  }
}

/**
 * A local archive on the snapshot store's file system is hard-linked into
 * the stage instead of copied, and hashed through the link: the copy of a
 * 250 MB release cost ~0.5-1.5 s and as much again in the flush before
 * promote. The link is kept only when nobody but this user can change the
 * file's bytes (owned by the effective user, not writable by group or
 * others): the bytes verified must be the bytes extracted, and a file
 * someone else could rewrite between the two is copied as before. Replacing
 * the feed's file (a new name) does not reach the link. Returns null when
 * the file cannot or must not be linked; the caller then copies it.
 */
async function linkLocal(file: string, dest: string, release: Release, opts: DownloadOptions): Promise<{ sha256: string; size: number } | null> {
  const euid = typeof process.geteuid === "function" ? process.geteuid() : -1;
  try {
    await fsp.link(file, dest);
  } catch (err) {
    // EEXIST: the stage's name was someone else's: the copy reports it.
    opts.log.debug({ file, err: errnoCode(err) ?? errorMessage(err) }, "archive not linked; copying it");
    return null;
  }
  let fh: fsp.FileHandle | undefined;
  let bar: ReturnType<ProgressFactory> | undefined;
  try {
    fh = await fsp.open(dest, "r");
    // Judge the file the link reached, not the one stat() saw: it may have been replaced in between.
    const st = await fh.stat();
    if (st.uid !== euid || (st.mode & 0o022) !== 0 || !st.isFile()) {
      opts.log.debug({ file, uid: st.uid, mode: (st.mode & 0o7777).toString(8) }, "archive writable by others; copying it instead of linking");
      await fsp.rm(dest, { force: true });
      return null;
    }
    if (st.size > opts.maxBytes) throw tooLarge(opts.maxBytes);
    bar = opts.progress("download", st.size, "bytes");
    const hash = crypto.createHash("sha256");
    const buf = Buffer.allocUnsafe(4 << 20);
    // Synchronous reads (the page cache answers them) in slices: awaited
    // reads queued behind the concurrent user/ copy's work took twice as long.
    const slices = new Slices(10);
    let size = 0;
    for (;;) {
      checkAbort();
      if (opts.signal?.aborted) throw opts.signal.reason;
      await slices.tick();
      const bytesRead = fs.readSync(fh.fd, buf, 0, buf.length, size);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > opts.maxBytes) throw tooLarge(opts.maxBytes);
      hash.update(buf.subarray(0, bytesRead));
      bar.update(size);
    }
    checkFeedSize(release, size);
    const sha256 = hash.digest("hex");
    opts.log.debug({ url: release.url, size, sha256, linked: true }, "downloaded");
    return { sha256, size };
  } catch (err) {
    await fsp.rm(dest, { force: true });
    if (err instanceof GpmError || err === opts.signal?.reason) throw err;
    throw fail(`download of ${release.url} failed: ${errnoCode(err) ?? errorMessage(err)}`, HINT);
  } finally {
    await fh?.close();
    bar?.stop();
  }
}
