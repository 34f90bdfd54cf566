/**
 * What a release archive may hold (SPEC section 5, step 3; invariant 7),
 * judged on what the central directory says, before a single byte is
 * written: names (absolute, drive letter, `..`, `.`, empty segments,
 * backslashes, control characters), entry types and modes, duplicates,
 * case/Unicode-normalization collisions, entries beneath a file or a symlink,
 * symlink targets (absolute, or resolving outside the tree, or through
 * another link), the entry count and the declared sizes.
 *
 * Pure: no zip, no file system. The zip reader (zip-reader.ts) turns entries
 * into `CentralEntry`s, the driver (extract.ts) applies these rules, and the
 * rules are unit-tested on plain values. Every refusal is exit 6 with one
 * line naming the entry and the reason.
 */
import { isArchiveJunk } from "./archive-junk.js";
import { integrity } from "../util/errors.js";
import { refuse } from "./extract-entry.js";

export type Kind = "file" | "dir" | "link";

/** An entry as the central directory describes it (the name decoded, as stored). */
export interface CentralEntry {
  name: string;
  /** The zip's external attributes: the Unix mode is in the upper 16 bits. */
  externalFileAttributes: number;
  uncompressedSize: number;
  compressionMethod: number;
  encrypted: boolean;
}

/** An entry judged safe on its own: where it goes, what it is, with which permission bits. */
export interface PlanEntry {
  /** Name as stored (for messages). */
  name: string;
  /** Its path, split; after stripping a wrapping folder, relative to the destination. */
  segments: string[];
  kind: Kind;
  /** Permission bits to apply (already masked). */
  mode: number;
  /** A link's target, once read. */
  target?: string;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
export const MAX_LINK_TARGET = 4096;
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

const FILES_HINT = "raise limits.maxFiles in gpm.json if this release really has that many files";

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

/** The archive's own entry count, before anything is read. */
export function checkEntryCount(count: number, maxFiles: number): void {
  if (count > maxFiles) throw integrity(`unsafe archive: ${count} entries, more than limits.maxFiles (${maxFiles})`, FILES_HINT);
}

/** While reading: `seen` entries are already planned (the count the archive states may lie). */
export function checkMoreEntries(seen: number, maxFiles: number): void {
  if (seen >= maxFiles) throw integrity(`unsafe archive: more than limits.maxFiles (${maxFiles}) entries`, FILES_HINT);
}

/** The sum of the files' declared sizes (the bytes written are counted again as they are written). */
export function checkDeclaredBytes(declared: number, maxUnpackedBytes: number): void {
  if (declared > maxUnpackedBytes) {
    throw integrity(`unsafe archive: declares ${declared} unpacked bytes, more than limits.maxUnpackedBytes (${maxUnpackedBytes})`, "raise limits.maxUnpackedBytes in gpm.json if this release is really that large");
  }
}

/** One entry on its own: its name, encryption, compression, type and mode. */
export function judgeEntry(e: CentralEntry): PlanEntry {
  const name = e.name;
  const bare = name.endsWith("/") ? name.slice(0, -1) : name;
  const reason = unsafeNameReason(bare);
  if (reason) throw refuse(name, reason);
  if (e.encrypted) throw refuse(name, "is encrypted");
  if (e.compressionMethod !== 0 && e.compressionMethod !== 8) throw refuse(name, `uses compression method ${e.compressionMethod} (only stored and deflate are read)`);
  return { name, segments: bare.split("/"), ...classify(e) };
}

function classify(e: CentralEntry): { kind: Kind; mode: number } {
  const name = e.name;
  const unix = e.externalFileAttributes >>> 16;
  const type = unix & S_IFMT;
  const perms = unix & 0o777; // never setuid, setgid or sticky
  const dirName = name.endsWith("/");
  if (type === S_IFLNK) {
    if (dirName) throw refuse(name, "is a symlink with a folder name");
    return { kind: "link", mode: 0o777 };
  }
  if (type === S_IFDIR || dirName) {
    if (!dirName && type === S_IFDIR && e.uncompressedSize > 0) throw refuse(name, "is a folder with content");
    // The owner keeps rwx: gpm must be able to write into, swap and delete what it unpacked.
    return { kind: "dir", mode: (perms || 0o755) | 0o700 };
  }
  if (type !== 0 && type !== S_IFREG) throw refuse(name, "is not a file, folder or symlink (device, fifo or socket)");
  // The owner keeps read: gpm hashes and copies these files later.
  return { kind: "file", mode: (perms || 0o644) | 0o400 };
}

/** The one folder every entry is under, or null. */
export function wrappingFolder(plan: PlanEntry[]): string | null {
  const first = plan[0]?.segments[0];
  if (first === undefined) return null;
  for (const p of plan) {
    if (p.segments[0] !== first) return null;
    if (p.segments.length === 1 && p.kind !== "dir") return null;
  }
  return first;
}

/** The plan without archive junk and without its wrapping folder (if it has one), and that folder's name. */
export function stripWrapper<T extends PlanEntry>(all: T[]): { plan: T[]; wrapper: string | null } {
  // Archive junk (__MACOSX/, .DS_Store) is dropped before the wrapper is judged:
  // a macOS zip of grav-update/ would otherwise have two top-level folders.
  const plan = all.filter((p) => !isArchiveJunk(p.segments));
  const wrapper = wrappingFolder(plan);
  if (wrapper === null) return { plan, wrapper };
  return { plan: plan.filter((p) => p.segments.length > 1).map((p) => ({ ...p, segments: p.segments.slice(1) })), wrapper };
}

/**
 * Check the whole plan (after stripping) before anything is written. Returns
 * every folder to create (explicit or implied), parents first, and the paths
 * of the links.
 */
export function checkStructure(plan: PlanEntry[]): { dirs: string[]; links: Set<string> } {
  const explicit = new Map<string, PlanEntry>();
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

/** A link whose stored target is too long to read (checked before reading it). */
export function checkLinkSize(p: PlanEntry, size: number, compressedSize: number): void {
  if (size > MAX_LINK_TARGET || compressedSize > MAX_LINK_TARGET * 2) throw refuse(p.name, "is a symlink with an overlong target");
}

/**
 * Where a link points, judged lexically from its folder: it must stay inside
 * the tree and must not pass through another link of the archive (the real
 * path of `other-link/..` is not the lexical one, so such a target could
 * escape while looking inside).
 */
export function checkLinkTarget(p: PlanEntry, links: Set<string>): void {
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
