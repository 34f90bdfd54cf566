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
 * Any refusal is exit 6 with one line naming the entry and the reason, and the
 * destination folder is removed: nothing is left, nothing is written outside.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import zlib from "node:zlib";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";
import { GpmError, errnoCode, errorMessage, fail, integrity } from "../util/errors.js";
import { isInside } from "../util/fsx.js";
import type { Logger } from "../util/log.js";
import type { ProgressFactory } from "../util/progress.js";
import { checkAbort } from "../util/signals.js";

export interface ExtractOptions {
  /** Most entries (files, folders and links) the archive may hold. */
  maxFiles: number;
  /** Most bytes the files may inflate to, counted as written. */
  maxUnpackedBytes: number;
  progress: ProgressFactory;
  log: Logger;
  /** Stop early (the stage stops extraction when its concurrent user/ copy fails). */
  signal?: AbortSignal;
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
interface Planned {
  entry: yauzl.Entry;
  /** Name as stored (for messages). */
  name: string;
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
const HINT = "the release archive is unsafe or corrupt; nothing was installed";

/** Control characters: C0, DEL and C1. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/; // eslint-disable-line no-control-regex

function stopIfAsked(signal: AbortSignal | undefined): void {
  checkAbort();
  if (signal?.aborted) throw signal.reason;
}

function refuse(name: string, reason: string): GpmError {
  return integrity(`unsafe archive: entry ${JSON.stringify(name)} ${reason}`, HINT);
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
  return null;
}

function openZip(zip: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings off: yauzl would turn `\` into `/` and reject some names
    // with its own messages; names are decoded and judged here instead.
    // validateEntrySizes off: sizes are checked here against the bytes written.
    yauzl.open(zip, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: false, strictFileNames: true }, (err, zf) => {
      if (err) reject(integrity(`not a valid zip archive: ${err.message}`, HINT));
      else resolve(zf);
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
  if (p.entry.uncompressedSize > MAX_LINK_TARGET || p.entry.compressedSize > MAX_LINK_TARGET * 2) throw refuse(p.name, "is a symlink with an overlong target");
  const stream = await zf.openReadStreamPromise(p.entry);
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
    zf = await openZip(zip);
    return await extractInto(zf, destDir, opts);
  } catch (err) {
    zf?.close();
    await fsp.rm(destDir, { recursive: true, force: true });
    if (err instanceof GpmError) throw err;
    const code = errnoCode(err);
    // An errno is the disk's fault (space, permissions); anything else came out of the archive.
    if (code?.startsWith("E")) throw fail(`extracting ${path.basename(zip)} failed: ${code} (${errorMessage(err)})`, "check free space and permissions of the snapshot folder");
    throw integrity(`corrupt archive ${path.basename(zip)}: ${errorMessage(err)}`, HINT);
  }
}

async function extractInto(zf: yauzl.ZipFile, destDir: string, opts: ExtractOptions): Promise<ExtractResult> {
  if (zf.entryCount > opts.maxFiles) {
    throw integrity(`unsafe archive: ${zf.entryCount} entries, more than limits.maxFiles (${opts.maxFiles})`, "raise limits.maxFiles in gpm.json if this release really has that many files");
  }

  // Pass 1: read and judge the central directory.
  let plan: Planned[] = [];
  let declared = 0;
  for await (const entry of zf.eachEntry()) {
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
    plan.push({ entry, name, segments: bare.split("/"), kind, mode });
  }
  if (declared > opts.maxUnpackedBytes) {
    throw integrity(`unsafe archive: declares ${declared} unpacked bytes, more than limits.maxUnpackedBytes (${opts.maxUnpackedBytes})`, "raise limits.maxUnpackedBytes in gpm.json if this release is really that large");
  }

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
  for (const d of dirs) await fsp.mkdir(full(d.split("/")), { mode: 0o700 });

  const fileCount = plan.filter((p) => p.kind !== "dir").length;
  const bar = opts.progress("extract", fileCount, "files");
  const files: ExtractedFile[] = [];
  let written = 0;
  let done = 0;
  try {
    for (const p of plan) {
      if (p.kind !== "file") continue;
      stopIfAsked(opts.signal);
      const dest = full(p.segments);
      const hash = crypto.createHash("sha256");
      let size = 0;
      let crc = 0;
      const declaredSize = p.entry.uncompressedSize;
      const count = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
        for await (const chunk of chunks) {
          size += chunk.length;
          written += chunk.length;
          if (written > opts.maxUnpackedBytes) {
            throw integrity(`unsafe archive: unpacks to more than limits.maxUnpackedBytes (${opts.maxUnpackedBytes}) bytes (at ${JSON.stringify(p.name)})`, "a zip bomb, or raise limits.maxUnpackedBytes in gpm.json");
          }
          if (size > declaredSize) throw refuse(p.name, `holds more bytes than the ${declaredSize} it declares`);
          hash.update(chunk);
          crc = zlib.crc32(chunk, crc);
          yield chunk;
        }
      };
      const stream = await zf.openReadStreamPromise(p.entry);
      await pipeline(stream, count, fs.createWriteStream(dest, { flags: "wx", mode: 0o600 }));
      if (size !== declaredSize) throw refuse(p.name, `holds ${size} bytes, not the ${declaredSize} it declares`);
      if (crc !== p.entry.crc32) throw refuse(p.name, "fails its CRC-32 check");
      await fsp.chmod(dest, p.mode);
      files.push({ path: p.segments.join("/"), sha256: hash.digest("hex"), size, mode: p.mode });
      bar.update(++done);
    }
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
    for (const d of [...dirs].reverse()) await fsp.chmod(full(d.split("/")), dirModes.get(d) ?? 0o755);

    const entries = [...new Set(plan.map((p) => p.segments[0]!))].sort();
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    linkList.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    opts.log.debug({ files: files.length, links: linkList.length, bytes: written }, "extracted");
    return { files, links: linkList, entries, bytes: written };
  } finally {
    bar.stop();
    zf.close();
  }
}
