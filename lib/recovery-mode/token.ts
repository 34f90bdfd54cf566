import crypto from "node:crypto";
import fsp from "node:fs/promises";
import { GpmError, Exit, errnoCode, fail } from "../util/errors.js";
import { fsyncDir } from "../util/fsx.js";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { giveOwner, mkdirp } from "../util/owner.js";

/**
 * Recovery page tokens (SPEC section 8): `base64url(payload) "." base64url(mac)`
 * where payload is `{"exp": <ms since epoch>, "nonce": <random>}` and mac is
 * HMAC-SHA256 over the encoded payload with the secret in `.gpm/recovery.key`.
 * Nothing is stored per token: deleting the key file revokes every token.
 */
export const DEFAULT_TTL_MS = 15 * 60_000;
export const MAX_TTL_MS = 24 * 3_600_000;
const KEY_HEX = /^[0-9a-f]{64}$/;
/** Longer than any token we issue; anything bigger is refused before it is decoded. */
const MAX_TOKEN_LENGTH = 512;

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

/**
 * The secret, created (32 random bytes, hex, mode 0600) when `create` is set
 * and it does not exist yet. A key file that group or others can read is
 * re-protected to 0600 with a warning; a link or a malformed key is refused.
 */
export async function loadRecoveryKey(inst: Installation, opts: { create: boolean; log?: Logger }): Promise<Buffer | null> {
  const file = inst.paths.recoveryKey;
  const st = await fsp.lstat(file).catch((err: unknown) => {
    if (errnoCode(err) === "ENOENT") return null;
    throw err;
  });
  if (!st) {
    if (!opts.create) return null;
    return createKey(inst);
  }
  if (!st.isFile()) throw fail(`${file} is not a regular file`, "remove it; gpm creates a new key (earlier tokens stop working)");
  if ((st.mode & 0o077) !== 0) {
    await fsp.chmod(file, 0o600);
    opts.log?.warn(`${file} was readable by others (mode ${(st.mode & 0o777).toString(8)}); set it to 0600 — delete it to rotate the key if others may have read it`);
  }
  const hex = (await fsp.readFile(file, "utf8")).trim();
  if (!KEY_HEX.test(hex)) throw fail(`${file} is malformed (expected 64 hex digits)`, "remove it; gpm creates a new key (earlier tokens stop working)");
  return Buffer.from(hex, "hex");
}

async function createKey(inst: Installation): Promise<Buffer> {
  await mkdirp(inst.paths.gpmDir);
  const key = crypto.randomBytes(32);
  let fh: fsp.FileHandle;
  try {
    // O_EXCL: of two gpm creating the key at once, one wins and the other reads its key.
    fh = await fsp.open(inst.paths.recoveryKey, "wx", 0o600);
  } catch (err) {
    if (errnoCode(err) !== "EEXIST") throw err;
    const other = await loadRecoveryKey(inst, { create: false });
    if (!other) throw fail(`could not create ${inst.paths.recoveryKey}`);
    return other;
  }
  try {
    await fh.writeFile(key.toString("hex") + "\n");
    await fh.chmod(0o600); // the umask may have narrowed it further, never widened it; make it exact
    await fh.sync();
  } finally {
    await fh.close();
  }
  await giveOwner(inst.paths.recoveryKey);
  await fsyncDir(inst.paths.gpmDir);
  return key;
}

function mac(key: Buffer, encodedPayload: string): Buffer {
  return crypto.createHmac("sha256", key).update(encodedPayload).digest();
}

/** A fresh token valid for `ttlMs` (creates the key on first use). */
export async function issueToken(inst: Installation, ttlMs = DEFAULT_TTL_MS, opts: { log?: Logger; now?: number } = {}): Promise<IssuedToken> {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TTL_MS) throw new GpmError(Exit.USAGE, `token lifetime ${ttlMs} ms is out of range (1s to 24h)`);
  const key = (await loadRecoveryKey(inst, { create: true, ...(opts.log ? { log: opts.log } : {}) }))!;
  const exp = (opts.now ?? Date.now()) + ttlMs;
  const payload = Buffer.from(JSON.stringify({ exp, nonce: crypto.randomBytes(16).toString("base64url") })).toString("base64url");
  return { token: `${payload}.${mac(key, payload).toString("base64url")}`, expiresAt: new Date(exp) };
}

/**
 * Is `token` one we issued and not yet expired? The MAC is compared with
 * crypto.timingSafeEqual on two buffers of the same length, so the time taken
 * says nothing about how much of a forged MAC was right. Never throws on bad
 * input; a missing key means no token is valid.
 */
export async function verifyToken(inst: Installation, token: unknown, opts: { log?: Logger; now?: number } = {}): Promise<boolean> {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return false;
  const key = await loadRecoveryKey(inst, { create: false, ...(opts.log ? { log: opts.log } : {}) });
  if (!key) return false;
  return checkToken(key, token, opts.now ?? Date.now());
}

/** The pure check, for callers that already hold the key. */
export function checkToken(key: Buffer, token: string, now: number): boolean {
  const parts = token.split(".");
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]!) || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) return false;
  const [payload, sig] = parts as [string, string];
  const expected = mac(key, payload);
  const given = Buffer.from(sig, "base64url");
  // timingSafeEqual needs equal lengths; a wrong-length MAC is compared against
  // a same-length buffer anyway so that every rejection costs the same.
  const same = crypto.timingSafeEqual(expected, given.length === expected.length ? given : Buffer.alloc(expected.length));
  if (!same || given.length !== expected.length) return false;
  let exp: unknown;
  try {
    exp = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown }).exp;
  } catch {
    return false;
  }
  return typeof exp === "number" && Number.isFinite(exp) && now < exp;
}

/** When a token (already verified) expires, in ms since the epoch; null when it cannot be read. */
export function tokenExpiry(token: string): number | null {
  try {
    const exp = (JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}

/**
 * `--ttl`: "15m", "900s", "2h", or a bare number of seconds ("30"). Between
 * 1 second and 24 hours; anything else is a usage error (exit 2).
 */
export function parseTtl(text: string): number {
  const m = /^\s*(\d{1,9})\s*([smh]?)\s*$/.exec(text);
  const unit = { "": 1000, s: 1000, m: 60_000, h: 3_600_000 } as const;
  if (!m) throw new GpmError(Exit.USAGE, `--ttl "${text}": expected a duration like 15m, 900s, 2h or 30 (seconds)`);
  const ms = Number(m[1]) * unit[m[2] as keyof typeof unit];
  if (ms <= 0) throw new GpmError(Exit.USAGE, `--ttl "${text}": must be at least 1 second`);
  if (ms > MAX_TTL_MS) throw new GpmError(Exit.USAGE, `--ttl "${text}": at most 24h (a recovery token is meant to be short-lived)`);
  return ms;
}
