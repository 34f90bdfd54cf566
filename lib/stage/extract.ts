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
import crypto from "node:crypto";
import zlib from "node:zlib";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import os from "node:os";
import { Worker } from "node:worker_threads";
import yauzl from "yauzl";
import { GpmError, errnoCode, errorMessage, fail, integrity } from "../util/errors.js";
import { isInside } from "../util/fsx.js";
import type { Logger } from "../util/log.js";
import type { ProgressFactory } from "../util/progress.js";
import { checkAbort } from "../util/signals.js";
import { killPoint } from "../util/seams.js";
import { Slices } from "../util/slices.js";
import { ArchiveWindow, CreatedModes, HINT, UnpackBudget, extractSmallEntry, readAt, refuse, streamed, type SmallJob, type Written, type SmallEntry } from "./extract-entry.js";
import type { BatchIn, BatchOut, WorkerInit } from "./extract-worker.js";
import { isArchiveJunk } from "./archive-junk.js";
import { fromWorkerError, newStopFlag, raiseStop } from "../util/worker-task.js";

export { SMALL_ENTRY_MAX } from "./extract-entry.js";
const WORKER_URL = new URL("./extract-worker.js", import.meta.url);

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

type Kind = "file" | "dir" | "link";
interface Planned extends SmallEntry {
  /**
   * The yauzl entry, kept only where yauzl reads the data itself (links and
   * streamed files): 20k whole entries held to the end cost ~12 MB of heap.
   */
  entry?: yauzl.Entry;
  segments: string[];
  kind: Kind;
  /** Permission bits to apply (already masked). */
  mode: number;
  target?: string;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MAX_LINK_TARGET = 4096;
const MAX_SEGMENT_BYTES = 255;
/**
 * A whole name longer than this, or nested deeper: placed under the root or a
 * snapshot folder it comes close to PATH_MAX (4096), so a later move or delete
 * of the snapshot could fail half-way. Real releases stay far below (Grav: ~15 levels).
 */
const MAX_NAME_BYTES = 1024;
const MAX_DEPTH = 48;

/** Control characters: C0, DEL and C1. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/; // eslint-disable-line no-control-regex

function stopIfAsked(signal: AbortSignal | undefined): void {
  checkAbort();
  if (signal?.aborted) throw signal.reason;
}

/** Why a stored name is unsafe, or null. `name` is without the trailing `/` of a folder. */
export function unsafeNameReason(name: string): string | null {
  if (name === "") return "has an empty name";
  if (CONTROL.test(name)) return "has a control character in its name";
  if (name.includes("\uFFFD")) return "has a name that is not valid UTF-8";
  if (name.includes("\\")) return "has a backslash in its name";
  if (name.startsWith("/")) return "is an absolute path";
  if (/^[A-Za-z]:/.test(name)) return "starts with a drive letter";
  for (const seg of name.split("/")) {
    if (seg === "") return "has an empty path segment";
    if (seg === ".") return 'has a "." segment';
    if (seg === "..") return 'has a ".." segment';
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) return "has a path segment longer than 255 bytes";
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `has a name longer than ${MAX_NAME_BYTES} bytes`;
  if (name.split("/").length > MAX_DEPTH) return `is nested deeper than ${MAX_DEPTH} levels`;
  return null;
}

/** Read-ahead of ZipReader for the central directory: one read serves some 2,000 entries. */
const CD_READ_AHEAD = 256 << 10;

/**
 * What yauzl reads the archive through (its documented RandomAccessReader
 * extension point). The central directory is read synchronously through a
 * read-ahead buffer: yauzl asks for each entry's header in two small reads,
 * and through its own fd reader each one is a thread-pool round trip (45,000
 * for a 20k-file release, with a thread wake-up apiece). Streamed entries
 * get large chunks. The small-entry path reads the same fd, so both see the
 * same file. The reader owns the fd: yauzl has it closed once the ZipFile and
 * its last stream are done.
 */
class ZipReader extends yauzl.RandomAccessReader {
  private buf: Buffer | undefined;
  /** The part of `buf` that holds the file from `cacheStart` on. */
  private cache: Buffer = Buffer.alloc(0);
  private cacheStart = 0;

  constructor(readonly fd: number) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // Not fs.createReadStream: yauzl destroys its streams, and an fs stream
    // then closes the fd, which is shared. Reads are synchronous (page cache).
    const fd = this.fd;
    let pos = start;
    return new Readable({
      highWaterMark: 256 << 10,
      read(size) {
        try {
          const want = Math.min(size, end - pos);
          if (want <= 0) return void this.push(null);
          const buf = Buffer.allocUnsafe(want);
          const got = readAt(fd, buf, 0, want, pos);
          pos += got;
          // A short read ends the stream early; yauzl's byte count refuses it.
          this.push(got > 0 ? buf.subarray(0, got) : null);
        } catch (err) {
          this.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      },
    });
  }

  /** Like fs.read (yauzl checks that `length` bytes came back), answered on the next tick. */
  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    let n = 0;
    let error: Error | null = null;
    try {
      const cached = position >= this.cacheStart && position + length <= this.cacheStart + this.cache.length;
      if (!cached && length > CD_READ_AHEAD / 2) n = readAt(this.fd, buffer, offset, length, position);
      else {
        if (!cached) {
          this.buf ??= Buffer.allocUnsafe(CD_READ_AHEAD);
          this.cache = this.buf.subarray(0, readAt(this.fd, this.buf, 0, this.buf.length, position));
          this.cacheStart = position;
        }
        // Fewer than `length` only at the end of the file.
        n = this.cache.copy(buffer, offset, position - this.cacheStart, Math.min(this.cache.length, position - this.cacheStart + length));
      }
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
    }
    // yauzl's callbacks take (err, bytesRead), as fs.read's do.
    process.nextTick(callback as (err: Error | null, bytesRead: number) => void, error, n);
  }

  override close(callback: (err: Error | null) => void): void {
    fs.close(this.fd, callback);
  }
}

function openZip(zip: string): Promise<{ zf: yauzl.ZipFile; fd: number }> {
  return new Promise((resolve, reject) => {
    let fd: number;
    let size: number;
    try {
      fd = fs.openSync(zip, "r");
    } catch (err) {
      reject(integrity(`not a valid zip archive: ${errorMessage(err)}`, HINT));
      return;
    }
    try {
      size = fs.fstatSync(fd).size;
    } catch (err) {
      fs.closeSync(fd);
      reject(err);
      return;
    }
    // decodeStrings off: yauzl would turn `\` into `/` and reject some names
    // with its own messages; names are decoded and judged here instead.
    // validateEntrySizes off: sizes are checked here against the bytes written.
    const opts = { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: false, strictFileNames: true };
    yauzl.fromRandomAccessReader(new ZipReader(fd), size, opts, (err, zf) => {
      if (err) {
        fs.closeSync(fd);
        reject(integrity(`not a valid zip archive: ${err.message}`, HINT));
      } else resolve({ zf, fd });
    });
  });
}

function decodeName(entry: yauzl.Entry): string {
  const raw = entry.fileNameRaw;
  // Judge control bytes on the raw bytes too: CP437 decoding would turn them into glyphs.
  for (const b of raw) if (b < 0x20 || b === 0x7f) return raw.toString("latin1");
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, true);
}

function classify(entry: yauzl.Entry, name: string): { kind: Kind; mode: number } {
  const unix = entry.externalFileAttributes >>> 16;
  const type = unix & S_IFMT;
  const perms = unix & 0o777; // never setuid, setgid or sticky
  const dirName = name.endsWith("/");
  if (type === S_IFLNK) {
    if (dirName) throw refuse(name, "is a symlink with a folder name");
    return { kind: "link", mode: 0o777 };
  }
  if (type === S_IFDIR || dirName) {
    if (!dirName && type === S_IFDIR && entry.uncompressedSize > 0) throw refuse(name, "is a folder with content");
    // The owner keeps rwx: gpm must be able to write into, swap and delete what it unpacked.
    return { kind: "dir", mode: (perms || 0o755) | 0o700 };
  }
  if (type !== 0 && type !== S_IFREG) throw refuse(name, "is not a file, folder or symlink (device, fifo or socket)");
  // The owner keeps read: gpm hashes and copies these files later.
  return { kind: "file", mode: (perms || 0o644) | 0o400 };
}

async function readLinkTarget(zf: yauzl.ZipFile, p: Planned): Promise<string> {
  if (p.size > MAX_LINK_TARGET || p.compressedSize > MAX_LINK_TARGET * 2) throw refuse(p.name, "is a symlink with an overlong target");
  const stream = await zf.openReadStreamPromise(p.entry!);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > MAX_LINK_TARGET) {
      stream.destroy();
      throw refuse(p.name, "is a symlink with an overlong target");
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString("utf8");
}

/**
 * Where a link points, judged lexically from its folder: it must stay inside
 * the tree and must not pass through another link of the archive (the real
 * path of `other-link/..` is not the lexical one, so such a target could
 * escape while looking inside).
 */
function checkLinkTarget(p: Planned, links: Set<string>): void {
  const t = p.target ?? "";
  if (t === "") throw refuse(p.name, "is a symlink with an empty target");
  if (CONTROL.test(t) || t.includes("\uFFFD")) throw refuse(p.name, "is a symlink whose target has a control character or invalid UTF-8");
  if (t.includes("\\")) throw refuse(p.name, "is a symlink whose target has a backslash");
  if (t.startsWith("/") || /^[A-Za-z]:/.test(t)) throw refuse(p.name, `is a symlink to an absolute path (${JSON.stringify(t)})`);
  const stack = p.segments.slice(0, -1);
  const parts = t.split("/");
  for (const [i, seg] of parts.entries()) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (stack.length === 0) throw refuse(p.name, `is a symlink that points outside the tree (${JSON.stringify(t)})`);
      stack.pop();
      continue;
    }
    stack.push(seg);
    const rest = parts.slice(i + 1).some((s) => s !== "" && s !== ".");
    if (rest && links.has(stack.join("/"))) throw refuse(p.name, `is a symlink that points through another symlink (${JSON.stringify(t)})`);
  }
}

/** The one folder every entry is under, or null. */
function wrappingFolder(plan: Planned[]): string | null {
  const first = plan[0]?.segments[0];
  if (first === undefined) return null;
  for (const p of plan) {
    if (p.segments[0] !== first) return null;
    if (p.segments.length === 1 && p.kind !== "dir") return null;
  }
  return first;
}

/** Check the whole plan (after stripping) before anything is written. */
function checkStructure(plan: Planned[]): { dirs: string[]; links: Set<string> } {
  const explicit = new Map<string, Planned>();
  for (const p of plan) {
    const key = p.segments.join("/");
    const prev = explicit.get(key);
    if (prev) throw refuse(p.name, `is a duplicate of ${JSON.stringify(prev.name)}`);
    explicit.set(key, p);
  }
  const links = new Set([...explicit].filter(([, p]) => p.kind === "link").map(([k]) => k));
  const dirs = new Set<string>();
  for (const p of plan) {
    for (let i = 1; i < p.segments.length; i++) {
      const prefix = p.segments.slice(0, i).join("/");
      const above = explicit.get(prefix);
      if (above?.kind === "link") throw refuse(p.name, `is beneath the symlink ${JSON.stringify(above.name)}`);
      if (above?.kind === "file") throw refuse(p.name, `is beneath the file ${JSON.stringify(above.name)}`);
      dirs.add(prefix);
    }
    if (p.kind === "dir") dirs.add(p.segments.join("/"));
  }
  // Two names that one case-insensitive or normalizing file system (macOS,
  // Windows, some NAS shares) would store as one: refuse, or which one wins
  // would depend on where the site lives.
  const folded = new Map<string, string>();
  for (const key of [...dirs, ...explicit.keys()]) {
    const f = key.normalize("NFC").toLowerCase();
    const other = folded.get(f);
    if (other !== undefined && other !== key) throw refuse(explicit.get(key)?.name ?? key, `collides with ${JSON.stringify(explicit.get(other)?.name ?? other)} (names differ only in case or Unicode form)`);
    folded.set(f, key);
  }
  return { dirs: [...dirs].sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b)), links };
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


/** Stream a large entry to `dest`, counting, hashing and checking the CRC of the bytes as they come out of inflate. */
async function writeLargeEntry(zf: yauzl.ZipFile, p: Planned, dest: string, budget: UnpackBudget): Promise<Written> {
  const hash = crypto.createHash("sha256");
  let size = 0;
  let crc = 0;
  const declaredSize = p.size;
  const count = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      size += chunk.length;
      budget.add(chunk.length, p.name);
      if (size > declaredSize) throw refuse(p.name, `holds more bytes than the ${declaredSize} it declares`);
      hash.update(chunk);
      crc = zlib.crc32(chunk, crc);
      yield chunk;
    }
  };
  const stream = await zf.openReadStreamPromise(p.entry!);
  await pipeline(stream, count, fs.createWriteStream(dest, { flags: "wx", mode: 0o600 }));
  if (size !== declaredSize) throw refuse(p.name, `holds ${size} bytes, not the ${declaredSize} it declares`);
  if (crc !== p.crc32) throw refuse(p.name, "fails its CRC-32 check");
  await fsp.chmod(dest, p.mode);
  return { sha256: hash.digest("hex"), size };
}

/** The synchronous loops yield to the event loop this often (ms): signals and progress get their turn. */
const SLICE_MS = 5;

/**
 * Wait for both; the first to fail aborts `stop` (so the other stops at its
 * next check) and its error is the one thrown, once both have ended: nothing
 * is still writing into the destination when the caller removes it.
 */
async function settleBoth<A, B>(a: Promise<A>, b: Promise<B>, stop: AbortController): Promise<[A, B]> {
  const first = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      if (!stop.signal.aborted) stop.abort(err);
      throw err;
    });
  const [ra, rb] = await Promise.allSettled([first(a), first(b)]);
  if (stop.signal.aborted) throw stop.signal.reason;
  if (ra.status === "rejected") throw ra.reason;
  if (rb.status === "rejected") throw rb.reason;
  return [ra.value, rb.value];
}

/**
 * Worker threads for the small entries: inflating, hashing and creating
 * 20,000 files is CPU work (in zlib, in SHA-256 and in the kernel's file
 * creation) that one thread does at the speed of `unzip`; spread over the
 * machine's cores it takes a fraction of that. Below WORKERS_FROM entries a
 * worker's start-up (~40 ms) costs more than it saves.
 */
const WORKERS_FROM = 512;
const MAX_WORKERS = 4;
function defaultWorkers(smallEntries: number): number {
  const cores = os.availableParallelism();
  return smallEntries < WORKERS_FROM || cores < 2 ? 0 : Math.min(MAX_WORKERS, cores);
}

/** Small entries on this thread, in slices (the archives below WORKERS_FROM, and machines with one core). */
async function writeInline(jobs: SmallJob[], fd: number, size: number, budget: UnpackBudget, opts: ExtractOptions, progressed: (n: number) => void): Promise<Written[]> {
  const win = new ArchiveWindow(fd, size);
  const modes = new CreatedModes();
  const slices = new Slices(SLICE_MS);
  const out: Written[] = [];
  let pending = 0;
  for (const job of jobs) {
    await slices.tick(() => {
      progressed(pending);
      pending = 0;
    });
    stopIfAsked(opts.signal);
    out.push(extractSmallEntry(win, job, budget, modes));
    if (out.length === 1) killPoint("stage:extracting");
    pending++;
  }
  progressed(pending);
  return out;
}

/** A batch closes at this many entries or compressed bytes: small enough to spread evenly and to notice a stop within milliseconds. */
const BATCH_ENTRIES = 64;
const BATCH_BYTES = 1 << 20;

/** Contiguous runs of jobs (entries lie in archive order, so each batch reads one stretch of the file). */
function batchesOf(jobs: SmallJob[]): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < jobs.length; i++) {
    bytes += jobs[i]!.compressedSize;
    if (i + 1 - start >= BATCH_ENTRIES || bytes >= BATCH_BYTES) {
      out.push([start, i + 1]);
      start = i + 1;
      bytes = 0;
    }
  }
  if (start < jobs.length) out.push([start, jobs.length]);
  return out;
}

/**
 * Small entries on `count` worker threads, each fed batches (two in flight,
 * so none waits for this thread between batches). The first error, or a stop
 * asked for, raises the shared stop flag: each worker finishes the entry it
 * is writing and skips the rest. The promise settles only once every worker
 * has exited, so nothing writes into the destination afterwards.
 */
function writeInWorkers(jobs: SmallJob[], count: number, fd: number, size: number, opts: ExtractOptions, progressed: (n: number) => void): Promise<Written[]> {
  const batches = batchesOf(jobs);
  const results: Written[] = new Array<Written>(jobs.length);
  const stop = newStopFlag();
  const init: WorkerInit = { role: "gpm-extract", fd, size, maxUnpackedBytes: opts.maxUnpackedBytes, stop };
  if (batches.length === 0) return Promise.resolve(results);
  return new Promise((resolve, reject) => {
    const threads: Worker[] = [];
    let next = 0;
    let finished = 0;
    let ended = false;
    let error: unknown;
    let exited = 0;
    const end = (err?: unknown): void => {
      if (err !== undefined && error === undefined) error = err;
      if (ended) return;
      ended = true;
      raiseStop(stop);
      for (const w of threads) w.postMessage({ end: true } satisfies BatchIn);
    };
    const send = (w: Worker): void => {
      if (next >= batches.length || ended) return;
      const batch = next++;
      const [from, to] = batches[batch]!;
      w.postMessage({ batch, jobs: jobs.slice(from, to) } satisfies BatchIn);
    };
    const onAbort = (): void => end(opts.signal!.reason);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    for (let i = 0; i < Math.min(count, batches.length); i++) {
      const w = new Worker(WORKER_URL, { workerData: init });
      threads.push(w);
      w.on("message", (msg: BatchOut) => {
        if (ended) return;
        if ("error" in msg) return end(fromWorkerError(msg.error));
        if ("stopped" in msg) return;
        const [from] = batches[msg.batch]!;
        for (const [k, r] of msg.results.entries()) results[from + k] = r;
        progressed(msg.results.length);
        try {
          stopIfAsked(opts.signal);
        } catch (err) {
          return end(err);
        }
        // Some files are written, others are still to come (and with workers, being written).
        if (finished === 0) killPoint("stage:extracting");
        if (++finished === batches.length) end();
        else send(w);
      });
      w.on("error", (err) => end(err));
      w.on("exit", () => {
        if (!ended) end(new Error("an extraction worker stopped before its work was done"));
        if (++exited < threads.length) return;
        opts.signal?.removeEventListener("abort", onAbort);
        if (error !== undefined) reject(error);
        else resolve(results);
      });
      send(w);
      send(w);
    }
  });
}

async function extractInto(zf: yauzl.ZipFile, fd: number, destDir: string, opts: ExtractOptions): Promise<ExtractResult> {
  if (zf.entryCount > opts.maxFiles) {
    throw integrity(`unsafe archive: ${zf.entryCount} entries, more than limits.maxFiles (${opts.maxFiles})`, "raise limits.maxFiles in gpm.json if this release really has that many files");
  }

  // Pass 1: read and judge the central directory.
  const slices = new Slices(SLICE_MS);
  let plan: Planned[] = [];
  let declared = 0;
  for await (const entry of zf.eachEntry()) {
    await slices.tick();
    stopIfAsked(opts.signal);
    const name = decodeName(entry);
    if (plan.length >= opts.maxFiles) throw integrity(`unsafe archive: more than limits.maxFiles (${opts.maxFiles}) entries`, "raise limits.maxFiles in gpm.json if this release really has that many files");
    const bare = name.endsWith("/") ? name.slice(0, -1) : name;
    const reason = unsafeNameReason(bare);
    if (reason) throw refuse(name, reason);
    if (entry.isEncrypted()) throw refuse(name, "is encrypted");
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) throw refuse(name, `uses compression method ${entry.compressionMethod} (only stored and deflate are read)`);
    const { kind, mode } = classify(entry, name);
    if (kind === "file") declared += entry.uncompressedSize;
    const { relativeOffsetOfLocalHeader: offset, compressedSize, uncompressedSize: size, crc32, compressionMethod: method } = entry;
    const keep = kind === "link" || (kind === "file" && streamed(compressedSize, size));
    plan.push({ ...(keep ? { entry } : {}), offset, compressedSize, size, crc32, method, name, segments: bare.split("/"), kind, mode });
  }
  if (declared > opts.maxUnpackedBytes) {
    throw integrity(`unsafe archive: declares ${declared} unpacked bytes, more than limits.maxUnpackedBytes (${opts.maxUnpackedBytes})`, "raise limits.maxUnpackedBytes in gpm.json if this release is really that large");
  }

  plan = plan.filter((p) => !isArchiveJunk(p.segments));
  const wrapper = wrappingFolder(plan);
  if (wrapper !== null) {
    plan = plan.filter((p) => p.segments.length > 1).map((p) => ({ ...p, segments: p.segments.slice(1) }));
    opts.log.debug({ wrapper }, "stripping the wrapping folder");
  }
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
    // Either side's failure stops the other, and is the error reported.
    const stop = new AbortController();
    const both = { ...opts, signal: opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal };
    const workers = opts.workers ?? defaultWorkers(jobs.length);
    const writeSmall = workers > 0 ? writeInWorkers(jobs, workers, fd, zf.fileSize, both, progressed) : writeInline(jobs, fd, zf.fileSize, budget, both, progressed);
    // The large entries stream on this thread meanwhile (their reads, inflate
    // and writes are mostly thread-pool work); a failure on either side stops both.
    const writeLarge = (async (): Promise<Written[]> => {
      const out = [];
      for (const p of large) {
        stopIfAsked(both.signal);
        out.push(await writeLargeEntry(zf, p, full(p.segments), budget));
        progressed(1);
      }
      return out;
    })();
    const [smallDone, largeDone] = await settleBoth(writeSmall, writeLarge, stop);
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
