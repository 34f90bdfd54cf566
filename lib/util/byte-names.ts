/**
 * File names are bytes; gpm's paths are strings. This is the one definition
 * of how a name that is not UTF-8 (an FTP upload in Latin-1: `caf\xe9.jpg`)
 * becomes a string and back, byte for byte, so that it can be listed,
 * joined, journaled (.gpm/journal.json), recorded (files.json) and swapped
 * like any other name.
 *
 * The form: the name decoded as UTF-8 wherever it is valid UTF-8, and each
 * byte that is not part of a valid sequence as the lone surrogate
 * U+DC00 + byte (U+DC80..U+DCFF; Python's "surrogateescape"). A lone
 * surrogate is no Unicode character, so it can come out of no valid UTF-8
 * name: the two never meet, a UTF-8 name is its own string (every existing
 * journal and files.json reads as before), and JSON carries the escape as
 * `\udce9`. Node's fs takes such a string only as the Buffer `fsPath` makes
 * of it; every fs call on a path that came from a listing goes through it.
 *
 * Journals written before this form spelled a non-UTF-8 top-level name as
 * NUL "x" hex (`legacyName` reads them).
 */

const LONE_LOW = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;
const LEGACY_HEX = "\0x";

/** The string of a name (or path) read as bytes (fs.readdir with encoding "buffer"). */
export function nameFromBytes(b: Buffer): string {
  const s = b.toString("utf8");
  // Fast path: no U+FFFD, so every byte decoded (a valid U+FFFD in a name takes the slow path, same result).
  if (!s.includes("\uFFFD")) return s;
  let out = "";
  let i = 0;
  while (i < b.length) {
    const n = seqLength(b, i);
    if (n > 0) {
      out += b.toString("utf8", i, i + n);
      i += n;
    } else {
      out += String.fromCharCode(0xdc00 + b[i]!);
      i++;
    }
  }
  return out;
}

/** The bytes of a name (or path) in the form above. */
export function bytesOfName(s: string): Buffer {
  if (!LONE_LOW.test(s)) return Buffer.from(s, "utf8");
  const parts: Buffer[] = [];
  let run = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const prevHigh = i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff;
    if (c >= 0xdc80 && c <= 0xdcff && !prevHigh) {
      if (run) parts.push(Buffer.from(run, "utf8"));
      run = "";
      parts.push(Buffer.from([c - 0xdc00]));
    } else run += s[i];
  }
  if (run) parts.push(Buffer.from(run, "utf8"));
  return Buffer.concat(parts);
}

/** What to hand to node:fs for path `p`: the string itself, or its bytes when it holds an escaped byte. */
export function fsPath(p: string): string | Buffer {
  return LONE_LOW.test(p) ? bytesOfName(p) : p;
}

/** Does `p` hold a byte that is not UTF-8 (so only a Buffer path reaches it)? */
export function hasRawBytes(p: string): boolean {
  return LONE_LOW.test(p);
}

/** A top-level name as a journal of the old form spelled it (NUL "x" hex), in the current form. */
export function legacyName(s: string): string {
  return s.startsWith(LEGACY_HEX) && /^[0-9a-f]*$/i.test(s.slice(LEGACY_HEX.length)) ? nameFromBytes(Buffer.from(s.slice(LEGACY_HEX.length), "hex")) : s;
}

/** Names of the folder `dir`, byte-exact (listing with encoding "buffer"). */
export function namesOf(list: Buffer[]): string[] {
  return list.map(nameFromBytes);
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there starts none. */
function seqLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let n: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) [n, min] = [2, 0x80];
  else if (c >= 0xe0 && c <= 0xef) [n, min] = [3, 0x800];
  else if (c >= 0xf0 && c <= 0xf4) [n, min] = [4, 0x10000];
  else return 0;
  if (i + n > b.length) return 0;
  let cp = c & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const d = b[i + k]!;
    if ((d & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}
