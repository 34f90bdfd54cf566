/**
 * One small archive entry, start to finish: read from the archive through a
 * window, inflated with its output capped, checked (size, CRC-32), hashed and
 * written, all synchronously. Shared by the extraction's main thread and its
 * workers (extract-worker.ts), so both judge an entry by the same code; it
 * imports nothing but Node and the error helpers, which keeps a worker's
 * start-up short.
 */
import fs from "node:fs";
import crypto from "node:crypto";
import zlib from "node:zlib";
import { GpmError, errorMessage, integrity } from "../util/errors.js";

export const HINT = "the release archive is unsafe or corrupt; nothing was installed";

export function refuse(name: string, reason: string): GpmError {
  return integrity(`unsafe archive: entry ${JSON.stringify(name)} ${reason}`, HINT);
}

/** What the central directory says of an entry's data, and where its local header is. */
export interface SmallEntry {
  offset: number;
  compressedSize: number;
  size: number;
  crc32: number;
  method: number;
  /** Name as stored (for messages). */
  name: string;
}

/** What writing an entry gives: the sha256 of its bytes and how many there were. */
export type Written = { sha256: string; size: number };

/** A small entry to write: where, and with which permission bits. */
export interface SmallJob extends SmallEntry {
  dest: string;
  mode: number;
}

/** Read `length` bytes at `position` into `buf` at `offset`: fewer only at the end of the file. */
export function readAt(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, offset + got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Entries up to this size (compressed and declared) are read, inflated,
 * checked and written synchronously in one go: a read stream, an inflate
 * stream (with its native zlib state), an async generator and a write stream
 * per file cost far more than the work itself for the typical 5 KB source
 * file, and a streamed entry pays a thread-pool round trip per 16 KB chunk
 * (a 4 MiB bundle streamed at ~50 MB/s, whole at several hundred). Memory is
 * bounded by twice this (compressed + inflated) beside the read window.
 * Larger entries are streamed. Exported for the tests, which build entries
 * on both sides.
 */
export const SMALL_ENTRY_MAX = 8 << 20;
/** Reads of the archive for small entries go through a window this large (entries lie in order: one read serves many). */
const WINDOW_BYTES = 1 << 20;
const WRITE_CHUNK = 256 << 10;
export const streamed = (compressedSize: number, size: number): boolean => compressedSize > SMALL_ENTRY_MAX || size > SMALL_ENTRY_MAX;
const LOCAL_HEADER_SIG = 0x04034b50;
const LOCAL_HEADER_BYTES = 30;

/**
 * Synchronous reads of byte ranges of the archive through a reusable window.
 * A range past the end of the file is a corrupt archive (a central directory
 * pointing outside it), never a short read.
 */
export class ArchiveWindow {
  private buf = Buffer.allocUnsafe(WINDOW_BYTES);
  private start = 0;
  private end = 0;
  /** Reused for entries too big for the window: one allocation, not one per entry left to the garbage collector. */
  private big = Buffer.alloc(0);

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  /** `length` bytes at `pos`; the view is valid until the next call. */
  read(pos: number, length: number, name: string): Buffer {
    if (pos < 0 || length < 0 || pos + length > this.size) throw integrity(`corrupt archive: entry ${JSON.stringify(name)} overflows the archive (bytes ${pos}+${length} of ${this.size})`, HINT);
    if (pos >= this.start && pos + length <= this.end) return this.buf.subarray(pos - this.start, pos - this.start + length);
    if (length > this.buf.length / 2) {
      // A big entry is read on its own, leaving the window where it is.
      if (this.big.length < length) this.big = Buffer.allocUnsafe(length);
      if (this.fill(this.big, pos, length) < length) throw integrity(`corrupt archive: entry ${JSON.stringify(name)} is cut short`, HINT);
      return this.big.subarray(0, length);
    }
    const got = this.fill(this.buf, pos, Math.min(this.buf.length, this.size - pos));
    this.start = pos;
    this.end = pos + got;
    if (got < length) throw integrity(`corrupt archive: entry ${JSON.stringify(name)} is cut short`, HINT);
    return this.buf.subarray(0, length);
  }

  private fill(buf: Buffer, pos: number, want: number): number {
    return readAt(this.fd, buf, 0, want, pos);
  }
}

/** Bytes actually unpacked so far, against limits.maxUnpackedBytes (never the declared sizes). */
export class UnpackBudget {
  written = 0;
  constructor(private readonly max: number) {}
  add(n: number, name: string): void {
    this.written += n;
    if (this.written > this.max) {
      throw integrity(`unsafe archive: unpacks to more than limits.maxUnpackedBytes (${this.max}) bytes (at ${JSON.stringify(name)})`, "a zip bomb, or raise limits.maxUnpackedBytes in gpm.json");
    }
  }
}

/** The data of a small entry, inflated with its output capped one byte above the declared size: a lie costs at most that much memory. */
function readSmallEntry(win: ArchiveWindow, p: SmallEntry, budget: UnpackBudget): Buffer {
  const head = win.read(p.offset, LOCAL_HEADER_BYTES, p.name);
  if (head.readUInt32LE(0) !== LOCAL_HEADER_SIG) throw integrity(`corrupt archive: entry ${JSON.stringify(p.name)} has no valid local header`, HINT);
  const dataStart = p.offset + LOCAL_HEADER_BYTES + head.readUInt16LE(26) + head.readUInt16LE(28);
  const raw = win.read(dataStart, p.compressedSize, p.name);
  const declared = p.size;
  let data: Buffer;
  if (p.method === 0) data = raw;
  else {
    try {
      // chunkSize: the output lands in one buffer of its exact size, not in
      // 16 KB pieces concatenated afterwards (twice the memory and a copy).
      data = zlib.inflateRawSync(raw, { maxOutputLength: declared + 1, chunkSize: Math.max(64, declared + 1) });
    } catch (err) {
      if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
        budget.add(declared + 1, p.name);
        throw refuse(p.name, `holds more bytes than the ${declared} it declares`);
      }
      throw integrity(`corrupt archive: entry ${JSON.stringify(p.name)} does not inflate (${errorMessage(err)})`, HINT);
    }
  }
  budget.add(data.length, p.name);
  if (data.length > declared) throw refuse(p.name, `holds more bytes than the ${declared} it declares`);
  if (data.length !== declared) throw refuse(p.name, `holds ${data.length} bytes, not the ${declared} it declares`);
  if (zlib.crc32(data) !== p.crc32) throw refuse(p.name, "fails its CRC-32 check");
  return data;
}

/**
 * Permission bits a file gets when created with a given mode: the umask (or
 * a default ACL) may take some away. Learned from the first file of each
 * mode (one fstat), then a file whose created mode already matches skips its
 * chmod. The answer is the same for every file: all of them are created by
 * this process in folders made here, which inherit alike.
 */
export class CreatedModes {
  private known = new Map<number, number>();
  fix(fd: number, mode: number): void {
    let got = this.known.get(mode);
    if (got === undefined) {
      got = fs.fstatSync(fd).mode & 0o7777;
      this.known.set(mode, got);
    }
    if (got !== mode) fs.fchmodSync(fd, mode);
  }
}

/** Write a small file whole: created exclusively (a name cannot have been written twice), mode set on the fd. */
function writeSmallFile(dest: string, data: Buffer, mode: number, modes: CreatedModes): void {
  const fd = fs.openSync(dest, "wx", mode);
  try {
    // In pieces: one 4 MiB write() cost the kernel ten times what 256 KiB ones do (measured on ext4, Linux 6.18).
    for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, Math.min(WRITE_CHUNK, data.length - off));
    modes.fix(fd, mode);
  } finally {
    fs.closeSync(fd);
  }
}


/** Read, check, hash and write one small entry. */
export function extractSmallEntry(win: ArchiveWindow, job: SmallJob, budget: UnpackBudget, modes: CreatedModes): Written {
  const data = readSmallEntry(win, job, budget);
  const sha256 = crypto.hash("sha256", data, "hex");
  writeSmallFile(job.dest, data, job.mode, modes);
  return { sha256, size: data.length };
}
