/**
 * Integrity of a downloaded release: its sha256 against the feed, and when a
 * `publicKey` is configured, an ed25519 signature.
 *
 * What is signed: the release's sha256, as its 64 lowercase hex characters
 * (ASCII), not the raw zip. Ed25519 (pure) must see the whole message at once,
 * so signing the zip would mean reading up to `limits.maxDownloadBytes` into
 * memory; the digest is computed while streaming the download, already checked
 * against the feed, and binds the signature to exactly those bytes.
 * docs/CONFIG.md ("signatures") shows how a publisher makes one.
 */
import crypto from "node:crypto";
import { fail, integrity } from "../util/errors.js";
import type { Release } from "./types.js";

export function verifyHash(expected: string, actual: string): void {
  if (!/^[0-9a-f]{64}$/i.test(expected)) throw integrity(`no valid sha256 to check the archive against (got "${expected}")`, "the feed must give a sha256 for every release");
  if (expected.toLowerCase() !== actual.toLowerCase()) {
    throw integrity(`sha256 mismatch: expected ${expected.toLowerCase()} got ${actual.toLowerCase()}`, "the download is corrupt or was tampered with; nothing was installed");
  }
}

/** The configured key: base64 of the raw 32-byte ed25519 public key, or a PEM (SPKI). Exit 1 when unusable. `name`: the config key (publicKey, feedKey). */
export function parsePublicKey(publicKey: string, name = "publicKey"): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    if (publicKey.includes("BEGIN PUBLIC KEY")) key = crypto.createPublicKey(publicKey);
    else {
      const raw = Buffer.from(publicKey.trim(), "base64");
      if (raw.length !== 32) throw new Error("not 32 bytes");
      key = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
    }
  } catch {
    throw fail(`${name}: not a usable ed25519 public key (base64 of 32 raw bytes, or a PEM)`, `fix ${name} in gpm.json (see docs/CONFIG.md, signatures)`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw fail(`${name}: an ${key.asymmetricKeyType ?? "unknown"} key, expected ed25519`, `fix ${name} in gpm.json (see docs/CONFIG.md, signatures)`);
  return key;
}

/**
 * Check `release.signature` (base64 ed25519 over the ASCII sha256 hex of the
 * archive) against `publicKey`. No key configured: nothing to check. A key
 * but no signature, a malformed one, or one that does not verify: exit 6.
 */
export function verifySignature(release: Release, sha256: string, publicKey: string | null): void {
  if (publicKey === null) return;
  const key = parsePublicKey(publicKey);
  if (!release.signature) {
    throw integrity(`release ${release.version} has no signature, and publicKey is configured`, "the feed must sign every release; nothing was installed");
  }
  const sig = Buffer.from(release.signature.trim(), "base64");
  if (sig.length !== 64) throw integrity(`release ${release.version}: the signature is not a base64 ed25519 signature (64 bytes)`, "the feed's signature field is corrupt; nothing was installed");
  const ok = crypto.verify(null, Buffer.from(sha256.toLowerCase(), "ascii"), key, sig);
  if (!ok) throw integrity(`release ${release.version}: bad signature (does not verify with publicKey)`, "the archive or the feed was tampered with, or publicKey is wrong; nothing was installed");
}
