/**
 * Reading a release zip through yauzl: the archive's one file descriptor
 * (read synchronously, with a read-ahead for the central directory), the
 * central directory turned into a plan judged by extract-policy.ts, link
 * targets, and the large entries that are streamed. The small entries are
 * read by extract-entry.ts through the same descriptor.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import crypto from "node:crypto";
import zlib from "node:zlib";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import yauzl from "yauzl";
import { errorMessage, integrity } from "../util/errors.js";
import { checkAbort } from "../util/signals.js";
import { Slices } from "../util/slices.js";
import { HINT, readAt, refuse, streamed, type SmallEntry, type UnpackBudget, type Written } from "./extract-entry.js";
import { MAX_LINK_TARGET, checkDeclaredBytes, checkLinkSize, checkMoreEntries, judgeEntry, type PlanEntry } from "./extract-policy.js";

export interface Planned extends PlanEntry, SmallEntry {
  /**
   * The yauzl entry, kept only where yauzl reads the data itself (links and
   * streamed files): 20k whole entries held to the end cost ~12 MB of heap.
   */
  entry?: yauzl.Entry;
}

/** The synchronous loops yield to the event loop this often (ms): signals and progress get their turn. */
export const SLICE_MS = 5;

export function stopIfAsked(signal: AbortSignal | undefined): void {
  checkAbort();
  if (signal?.aborted) throw signal.reason;
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

export function openZip(zip: string): Promise<{ zf: yauzl.ZipFile; fd: number }> {
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

/**
 * Pass 1: every entry of the central directory, judged on its own (names,
 * type, the running count, then the declared sizes): the plan before stripping.
 */
export async function readPlan(zf: yauzl.ZipFile, limits: { maxFiles: number; maxUnpackedBytes: number; signal?: AbortSignal }): Promise<Planned[]> {
  const slices = new Slices(SLICE_MS);
  const plan: Planned[] = [];
  let declared = 0;
  for await (const entry of zf.eachEntry()) {
    await slices.tick();
    stopIfAsked(limits.signal);
    const name = decodeName(entry);
    checkMoreEntries(plan.length, limits.maxFiles);
    const judged = judgeEntry({ name, externalFileAttributes: entry.externalFileAttributes, uncompressedSize: entry.uncompressedSize, compressionMethod: entry.compressionMethod, encrypted: entry.isEncrypted() });
    if (judged.kind === "file") declared += entry.uncompressedSize;
    const { relativeOffsetOfLocalHeader: offset, compressedSize, uncompressedSize: size, crc32, compressionMethod: method } = entry;
    const keep = judged.kind === "link" || (judged.kind === "file" && streamed(compressedSize, size));
    plan.push({ ...(keep ? { entry } : {}), offset, compressedSize, size, crc32, method, ...judged });
  }
  checkDeclaredBytes(declared, limits.maxUnpackedBytes);
  return plan;
}

function decodeName(entry: yauzl.Entry): string {
  const raw = entry.fileNameRaw;
  // Judge control bytes on the raw bytes too: CP437 decoding would turn them into glyphs.
  for (const b of raw) if (b < 0x20 || b === 0x7f) return raw.toString("latin1");
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, true);
}

export async function readLinkTarget(zf: yauzl.ZipFile, p: Planned): Promise<string> {
  checkLinkSize(p, p.size, p.compressedSize);
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

/** Stream a large entry to `dest`, counting, hashing and checking the CRC of the bytes as they come out of inflate. */
export async function writeLargeEntry(zf: yauzl.ZipFile, p: Planned, dest: string, budget: UnpackBudget): Promise<Written> {
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

