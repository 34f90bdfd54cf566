/**
 * A minimal zip writer for hostile archives. archiver sanitizes names (and
 * refuses `..`, absolute paths, duplicates), so the cases an extractor must
 * refuse are written here byte by byte: local headers, data, central
 * directory, end record. Names are taken raw; sizes and CRCs can lie.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import zlib from "node:zlib";

export interface RawEntry {
  /** Stored as is (a string is written as UTF-8 with the UTF-8 flag set). */
  name: string | Buffer;
  data?: string | Buffer;
  /** Full unix mode with type bits (0o100644 file, 0o040755 folder, 0o120777 symlink). Default from the name. */
  mode?: number;
  /** 0 stored, 8 deflate (default). */
  method?: 0 | 8;
  /** Lie about the uncompressed size (both headers). */
  declaredSize?: number;
  /** Lie about the CRC-32 (both headers). */
  crc?: number;
}

export const S_FILE = 0o100000;
export const S_DIR = 0o040000;
export const S_LINK = 0o120000;

export const file = (name: string | Buffer, data: string | Buffer = "", perms = 0o644): RawEntry => ({ name, data, mode: S_FILE | perms });
export const dir = (name: string): RawEntry => ({ name: name.endsWith("/") ? name : name + "/", mode: S_DIR | 0o755 });
export const symlink = (name: string, target: string): RawEntry => ({ name, data: target, mode: S_LINK | 0o777, method: 0 });

// 2024-01-02 03:04:06 in MS-DOS format.
const DOS_TIME = (3 << 11) | (4 << 5) | (6 >> 1);
const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 2;

export function rawZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, "utf8");
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, "utf8");
    const method = e.method ?? 8;
    const body = method === 8 ? zlib.deflateRawSync(data) : data;
    const crc = e.crc ?? zlib.crc32(data);
    const size = e.declaredSize ?? data.length;
    const isDir = name.at(-1) === 0x2f;
    const mode = e.mode ?? (isDir ? S_DIR | 0o755 : S_FILE | 0o644);
    const flags = Buffer.isBuffer(e.name) ? 0 : 0x800;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attrs
    central.writeUInt32LE(((mode << 16) | (isDir ? 0x10 : 0)) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** Write a raw zip to `file`; returns its sha256 and size like makeZip. */
export async function writeRawZip(filePath: string, entries: RawEntry[]): Promise<{ sha256: string; size: number }> {
  const buf = rawZip(entries);
  await fsp.mkdir(path.dirname(filePath), { recursive: true });
  await fsp.writeFile(filePath, buf);
  return { sha256: crypto.createHash("sha256").update(buf).digest("hex"), size: buf.length };
}
