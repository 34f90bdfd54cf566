import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { pathToFileURL } from "node:url";
import { downloadRelease } from "../../../lib/stage/download.js";
import { verifyHash, verifySignature, parsePublicKey } from "../../../lib/stage/verify.js";
import type { Release } from "../../../lib/stage/types.js";
import { Exit } from "../../../lib/util/errors.js";
import { silentLogger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";
import { serveDir, tmpDir, type Server } from "../../helpers/fixtures.js";
import { rejectsGpm, throwsGpm } from "./helpers.js";

const sha = (b: Buffer | string): string => crypto.createHash("sha256").update(b).digest("hex");

function release(url: string, o: Partial<Release> = {}): Release {
  return { version: "1.8.0", url, sha256: "0".repeat(64), size: null, date: null, channel: "stable", changelog: "", requires: {}, conflicts: [], signature: null, ...o };
}

describe("stage/download", () => {
  let d: string;
  let s: Server;
  const payload = crypto.randomBytes(300_000);
  before(async () => {
    d = await tmpDir();
    await fsp.writeFile(path.join(d, "r.zip"), payload);
    // A route with no content-length (chunked): the cap must hold while streaming.
    s = await serveDir(d, { "/chunked.zip": { body: payload } });
  });
  after(() => s.close());

  it("streams an http download to disk, hashing it, with progress in bytes", async () => {
    const dest = path.join(await tmpDir(), "package.zip");
    const seen: { label: string; total: number; unit: string; last: number }[] = [];
    const progress = (label: string, total: number, unit: "bytes" | "files") => {
      const bar = { label, total, unit, last: 0 };
      seen.push(bar);
      return { update: (n: number) => (bar.last = n), stop() {} };
    };
    const got = await downloadRelease(release(`${s.url}/r.zip`, { size: payload.length }), dest, { maxBytes: 1_000_000, progress, log: silentLogger });
    assert.deepEqual(got, { sha256: sha(payload), size: payload.length });
    assert.ok((await fsp.readFile(dest)).equals(payload));
    assert.deepEqual(seen, [{ label: "download", total: payload.length, unit: "bytes", last: payload.length }]);
  });

  it("links a file:// release only this user can write (same file system) instead of copying it, hashing it through the link", async () => {
    const src = path.join(d, "r.zip");
    await fsp.chmod(src, 0o644);
    const dest = path.join(await tmpDir(), "package.zip");
    const seen: number[] = [];
    const progress = () => ({ update: (n: number) => void seen.push(n), stop() {} });
    const got = await downloadRelease(release(pathToFileURL(src).href, { size: payload.length }), dest, { maxBytes: 1_000_000, progress, log: silentLogger });
    assert.deepEqual(got, { sha256: sha(payload), size: payload.length });
    const [a, b] = [await fsp.stat(src), await fsp.stat(dest)];
    assert.equal(b.ino, a.ino, "one file, two names");
    assert.equal(seen.at(-1), payload.length, "progress in bytes to the end");
    await fsp.rm(dest);
    assert.ok((await fsp.readFile(src)).equals(payload), "the source is untouched when the stage goes");
  });

  it("copies a file:// release that group or others could rewrite (the verified bytes must be the extracted ones)", async () => {
    for (const mode of [0o664, 0o646]) {
      const src = path.join(await tmpDir(), "r.zip");
      await fsp.writeFile(src, payload);
      await fsp.chmod(src, mode);
      const dest = path.join(await tmpDir(), "package.zip");
      const got = await downloadRelease(release(pathToFileURL(src).href), dest, { maxBytes: 1_000_000, progress: noProgress, log: silentLogger });
      assert.equal(got.sha256, sha(payload));
      assert.notEqual((await fsp.stat(dest)).ino, (await fsp.stat(src)).ino, `mode ${mode.toString(8)}: a copy`);
      assert.equal((await fsp.stat(src)).nlink, 1, "no link left behind");
    }
  });

  it("a linked file:// release whose size differs from the feed's: exit 6, the link removed, the source kept", async () => {
    const src = path.join(d, "r.zip");
    const dest = path.join(await tmpDir(), "package.zip");
    await rejectsGpm(downloadRelease(release(pathToFileURL(src).href, { size: 1234 }), dest, { maxBytes: 1_000_000, progress: noProgress, log: silentLogger }), Exit.INTEGRITY, /is 300000 bytes, the feed says 1234/);
    assert.equal(fs.existsSync(dest), false);
    assert.equal((await fsp.stat(src)).nlink, 1);
  });

  it("refuses a download above limits.maxDownloadBytes (exit 6), by content-length or while streaming, leaving no file", async () => {
    const out = await tmpDir();
    for (const url of [`${s.url}/r.zip`, `${s.url}/chunked.zip`, pathToFileURL(path.join(d, "r.zip")).href]) {
      const dest = path.join(out, "package.zip");
      await rejectsGpm(downloadRelease(release(url), dest, { maxBytes: 100_000, progress: noProgress, log: silentLogger }), Exit.INTEGRITY, /download exceeds limits\.maxDownloadBytes/);
      assert.equal(fs.existsSync(dest), false, url);
    }
  });

  it("refuses a download whose size differs from the feed's (exit 6)", async () => {
    const dest = path.join(await tmpDir(), "package.zip");
    await rejectsGpm(downloadRelease(release(`${s.url}/r.zip`, { size: 1234 }), dest, { maxBytes: 1_000_000, progress: noProgress, log: silentLogger }), Exit.INTEGRITY, /is 300000 bytes, the feed says 1234/);
    assert.equal(fs.existsSync(dest), false);
  });

  it("fails with exit 1 on 404 and on a missing file, and never overwrites an existing file", async () => {
    const out = await tmpDir();
    await rejectsGpm(downloadRelease(release(`${s.url}/absent.zip`), path.join(out, "a.zip"), { maxBytes: 1e6, progress: noProgress, log: silentLogger }), Exit.ERROR, /HTTP 404/);
    await rejectsGpm(downloadRelease(release(pathToFileURL(path.join(d, "absent.zip")).href), path.join(out, "b.zip"), { maxBytes: 1e6, progress: noProgress, log: silentLogger }), Exit.ERROR, /ENOENT/);
    await fsp.writeFile(path.join(out, "c.zip"), "mine");
    await rejectsGpm(downloadRelease(release(`${s.url}/r.zip`), path.join(out, "c.zip"), { maxBytes: 1e6, progress: noProgress, log: silentLogger }), Exit.ERROR, /already exists/);
    assert.equal(await fsp.readFile(path.join(out, "c.zip"), "utf8"), "mine");
    assert.deepEqual((await fsp.readdir(out)).sort(), ["c.zip"]);
  });
});

describe("stage/verify", () => {
  const digest = sha("the archive bytes");
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const rawKey = Buffer.from((publicKey.export({ format: "jwk" }) as { x: string }).x, "base64url").toString("base64");
  const pemKey = publicKey.export({ format: "pem", type: "spki" }).toString();
  const sign = (msg: string, key = privateKey): string => crypto.sign(null, Buffer.from(msg, "ascii"), key).toString("base64");

  it("verifyHash passes on a match (any case) and refuses a mismatch with exit 6", () => {
    verifyHash(digest.toUpperCase(), digest);
    throwsGpm(() => verifyHash("1".repeat(64), digest), Exit.INTEGRITY, new RegExp(`sha256 mismatch: expected 1{64} got ${digest}`));
    throwsGpm(() => verifyHash("", digest), Exit.INTEGRITY, /no valid sha256/);
  });

  it("accepts a good signature over the sha256 hex, with a raw base64 key or a PEM", () => {
    const r = release("https://x.test/a.zip", { signature: sign(digest) });
    verifySignature(r, digest, rawKey);
    verifySignature(r, digest.toUpperCase(), pemKey);
  });

  it("refuses a bad signature, a signature by another key, a malformed one, and a missing one when a key is set (exit 6)", () => {
    const other = crypto.generateKeyPairSync("ed25519").privateKey;
    throwsGpm(() => verifySignature(release("u", { signature: sign(sha("other bytes")) }), digest, rawKey), Exit.INTEGRITY, /bad signature/);
    throwsGpm(() => verifySignature(release("u", { signature: sign(digest, other) }), digest, rawKey), Exit.INTEGRITY, /bad signature/);
    throwsGpm(() => verifySignature(release("u", { signature: "bm90IGEgc2lnbmF0dXJl" }), digest, rawKey), Exit.INTEGRITY, /not a base64 ed25519 signature/);
    throwsGpm(() => verifySignature(release("u"), digest, rawKey), Exit.INTEGRITY, /release 1\.8\.0 has no signature, and publicKey is configured/);
  });

  it("checks nothing without a key; refuses an unusable key with exit 1", () => {
    verifySignature(release("u"), digest, null);
    throwsGpm(() => parsePublicKey(Buffer.alloc(16).toString("base64")), Exit.ERROR, /not a usable ed25519 public key/);
    const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "pem", type: "spki" }).toString();
    throwsGpm(() => parsePublicKey(rsa), Exit.ERROR, /an rsa key, expected ed25519/);
  });
});
