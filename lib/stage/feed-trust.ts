/**
 * Feed trust (SPEC section 3): with `feedKey` configured, the feed file is
 * only believed when
 *  - a detached signature at `<feed URL>.sig` (base64 of the ed25519
 *    signature over the feed file's exact bytes, as `openssl pkeyutl -sign
 *    -rawin` makes it) verifies with `feedKey` — before anything in the feed
 *    is used;
 *  - it is a native feed carrying `version` (an integer) and `expires` (an
 *    ISO time) — the GitHub Releases shape cannot carry them, and a signed
 *    feed that can be replayed forever is not one a careful operator trusts;
 *  - `expires` has not passed (else: a frozen or stale mirror);
 *  - `version` is not lower than the highest this root has seen under this
 *    key (else: a replayed old feed). The high-water mark is kept per key
 *    (its sha256 fingerprint) in `.gpm/feed-state.json`: a feed signed with
 *    an old key cannot verify with a new one, so a rotated key may start its
 *    own count without reopening the replay.
 * Each refusal is exit 6 with one line. Without `feedKey`, `version` and
 * `expires` are only reported (`self-upgrade --check`).
 *
 * The .sig may hold several signatures, one per line: any one that verifies
 * is enough. That is how a publisher rotates keys without a gap (sign with
 * both keys, move the sites to the new key, drop the old line). A raw 64-byte
 * signature (openssl's output before base64) is accepted too.
 */
import crypto from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { errnoCode, errorMessage, fail, integrity } from "../util/errors.js";
import { writeJsonDurable } from "../util/fsx.js";
import { mkdirp } from "../util/owner.js";
import type { Logger } from "../util/log.js";
import { readBytes, type FetchedFeed } from "./feed.js";
import { parsePublicKey } from "./verify.js";

/** What `self-upgrade --check` shows about the feed itself. */
export interface FeedInfo {
  version: number | null;
  expires: string | null;
  /** True when the feed's signature was checked with feedKey and held. */
  trusted: boolean;
}

export interface FeedTrustOptions {
  /** Config `feedKey`: base64 of the raw 32-byte ed25519 public key, or a PEM. Null: nothing enforced. */
  feedKey: string | null;
  /** `.gpm/feed-state.json` of this root. */
  stateFile: string;
  log: Logger;
  /** Injected clock for tests of `expires`; default Date.now. */
  now?: () => number;
}

const MAX_SIG_BYTES = 16 * 1024;
const TRUST_HINT = "the feed is not the one its publisher signed, or it is stale: nothing was installed; see docs/FEED.md (feed trust)";

const markSchema = z.object({ version: z.number().int().nonnegative(), expires: z.string().nullable(), feed: z.string(), seenAt: z.string() });
const stateSchema = z.object({ keys: z.record(z.string(), markSchema) });
type FeedState = z.infer<typeof stateSchema>;

/** `<feed URL>.sig`: `.sig` is added to the path, a query string stays a query string. */
export function signatureUrl(feed: URL): URL {
  const u = new URL(feed.href);
  u.hash = "";
  u.pathname += ".sig";
  return u;
}

/** The signatures a .sig file holds: base64 lines of 64 bytes each, or one raw 64-byte signature. */
export function parseSignatures(buf: Buffer, display: string): Buffer[] {
  const text = buf.toString("latin1");
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (lines.length > 0 && lines.every((l) => b64.test(l) && Buffer.from(l, "base64").length === 64)) {
    return lines.map((l) => Buffer.from(l, "base64"));
  }
  if (buf.length === 64) return [buf];
  throw integrity(`feed signature ${display} is not a base64 ed25519 signature (64 bytes, one per line)`, "re-sign the feed (docs/FEED.md, signing)");
}

/** The sha256 of the raw public key: names the key in `.gpm/feed-state.json`. */
export function keyFingerprint(key: crypto.KeyObject): string {
  const raw = Buffer.from(key.export({ format: "jwk" }).x ?? "", "base64url");
  return crypto.createHash("sha256").update(raw).digest("hex");
}

async function readSignature(feed: FetchedFeed): Promise<{ buf: Buffer; display: string }> {
  const url = signatureUrl(feed.url);
  const display = url.protocol === "file:" ? `${feed.display}.sig` : url.href;
  try {
    return { buf: await readBytes(url, `feed signature ${display}`, MAX_SIG_BYTES, feed.deadlines), display };
  } catch (err) {
    throw integrity(`feed ${feed.display} has no readable signature ${display} (${errorMessage(err)}), and feedKey is configured`, "publish the detached signature beside the feed (docs/FEED.md, signing); nothing was installed");
  }
}

async function readState(file: string, log: Logger): Promise<FeedState> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { keys: {} };
    throw fail(`${file} cannot be read: ${errnoCode(err) ?? errorMessage(err)}`, "check the permissions of .gpm/");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const ok = stateSchema.safeParse(parsed);
  if (ok.success) return ok.data;
  // The mark only ever protects; whoever can damage it could as well lower it.
  // Starting again from the feed now read is the careful choice, said aloud.
  log.warn({ file }, `${file} is damaged; gpm rewrites it, and the feed's version high-water mark starts again from this feed`);
  return { keys: {} };
}

async function writeState(file: string, state: FeedState): Promise<void> {
  const dir = path.dirname(file);
  const st = await fsp.lstat(dir).catch(() => null);
  if (st && !st.isDirectory()) throw fail(`${dir} is not a real folder (a link or a file)`, "make .gpm/ a folder inside the root");
  if (!st) await mkdirp(dir, 0o700);
  await writeJsonDurable(file, state, 0o600);
}

/** `version` and `expires` of a native feed, as far as they are there and well-formed. */
export function feedFields(doc: unknown): { version: number | null; expires: string | null } {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { version: null, expires: null };
  const d = doc as { version?: unknown; expires?: unknown };
  const version = typeof d.version === "number" && Number.isSafeInteger(d.version) && d.version >= 0 ? d.version : null;
  const expires = typeof d.expires === "string" && Number.isFinite(Date.parse(d.expires)) ? d.expires : null;
  return { version, expires };
}

/**
 * The `verify` hook for loadFeed, and what it learned (filled in once the feed
 * has been read). Refuses (exit 6) a feed that fails any rule above.
 */
export function feedTrust(opts: FeedTrustOptions): { verify: (feed: FetchedFeed) => Promise<void>; info: FeedInfo } {
  const info: FeedInfo = { version: null, expires: null, trusted: false };
  const verify = async (feed: FetchedFeed): Promise<void> => {
    Object.assign(info, feedFields(feed.doc));
    if (opts.feedKey === null) return;
    const key = parsePublicKey(opts.feedKey, "feedKey");
    const sig = await readSignature(feed);
    const sigs = parseSignatures(sig.buf, sig.display);
    if (!sigs.some((s) => crypto.verify(null, feed.bytes, key, s))) {
      throw integrity(`feed ${feed.display}: bad signature (${sig.display} does not verify with feedKey)`, TRUST_HINT);
    }
    if (Array.isArray(feed.doc)) {
      throw integrity(`feed ${feed.display} is a GitHub Releases array, which cannot carry version and expires; feedKey needs a native feed`, "publish a native feed (docs/FEED.md), or remove feedKey from gpm.json");
    }
    const d = feed.doc as { version?: unknown; expires?: unknown };
    if (info.version === null) throw integrity(`feed ${feed.display}: field "version": ${d.version === undefined ? "is missing" : "must be a non-negative integer"} (feedKey is configured)`, TRUST_HINT);
    if (info.expires === null) throw integrity(`feed ${feed.display}: field "expires": ${d.expires === undefined ? "is missing" : "must be an ISO date-time"} (feedKey is configured)`, TRUST_HINT);
    const now = (opts.now ?? Date.now)();
    if (Date.parse(info.expires) <= now) {
      throw integrity(`feed ${feed.display} expired at ${info.expires} (version ${info.version}): a frozen or stale mirror`, "the publisher must re-sign the feed with a later expires (docs/FEED.md); nothing was installed");
    }
    const fp = keyFingerprint(key);
    const state = await readState(opts.stateFile, opts.log);
    const seen = state.keys[fp];
    if (seen && info.version < seen.version) {
      throw integrity(`feed ${feed.display}: version ${info.version} is lower than version ${seen.version} seen before: a replayed old feed`, TRUST_HINT);
    }
    if (!seen || info.version > seen.version) {
      state.keys[fp] = { version: info.version, expires: info.expires, feed: feed.display, seenAt: new Date(now).toISOString() };
      await writeState(opts.stateFile, state);
    }
    info.trusted = true;
    opts.log.debug({ feed: feed.display, version: info.version, expires: info.expires }, "feed signature, version and expiry checked");
  };
  return { verify, info };
}
