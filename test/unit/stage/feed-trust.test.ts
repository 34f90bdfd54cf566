import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { loadFeed } from "../../../lib/stage/feed.js";
import { feedTrust, parseSignatures, signatureUrl } from "../../../lib/stage/feed-trust.js";
import { parseConfig } from "../../../lib/install/config.js";
import { Exit } from "../../../lib/util/errors.js";
import { createLogger, silentLogger } from "../../../lib/util/log.js";
import { makeFeedKey, signFeed, signRaw, type FeedKeyPair } from "../../helpers/openssl.js";
import { tmpDir } from "../../helpers/fixtures.js";
import { rejectsGpm, throwsGpm } from "./helpers.js";

const FUTURE = "2099-01-01T00:00:00Z";
const HEX = "c".repeat(64);

/** A native feed file with `version` / `expires` (undefined: left out). */
async function writeFeed(dir: string, fields: { version?: unknown; expires?: unknown }, name = "releases.json"): Promise<string> {
  const file = path.join(dir, name);
  const doc = { releases: [{ version: "1.8.0", url: "grav-update-1.8.0.zip", sha256: HEX }], ...fields };
  await fsp.writeFile(file, JSON.stringify(doc, null, 2));
  return file;
}

describe("stage/feed-trust", function () {
  this.timeout(60_000);
  let dir: string;
  let key: FeedKeyPair;
  let state: string;
  before(async () => {
    key = await makeFeedKey(await tmpDir("gpm-keys-"));
  });
  beforeEach(async () => {
    dir = await tmpDir();
    state = path.join(dir, "site", ".gpm", "feed-state.json");
  });
  const load = (feed: string, feedKey: string | null = key.publicBase64, log = silentLogger) => {
    const trust = feedTrust({ feedKey, stateFile: state, log });
    return loadFeed(feed, { log, verify: trust.verify }).then((releases) => ({ releases, info: trust.info }));
  };
  const mark = async (): Promise<number> => Object.values((JSON.parse(await fsp.readFile(state, "utf8")) as { keys: Record<string, { version: number }> }).keys)[0]!.version;

  it("a feed signed with openssl pkeyutl -sign -rawin is read; its version becomes the high-water mark", async () => {
    const feed = await writeFeed(dir, { version: 7, expires: FUTURE });
    await signFeed(key.privateKey, feed);
    const { releases, info } = await load(feed);
    assert.equal(releases[0]!.version, "1.8.0");
    assert.deepEqual(info, { version: 7, expires: FUTURE, trusted: true });
    assert.equal(await mark(), 7);
    assert.equal((await fsp.stat(state)).mode & 0o777, 0o600);
  });

  it("accepts the PEM form of the key and openssl's raw 64-byte output as the .sig", async () => {
    const feed = await writeFeed(dir, { version: 1, expires: FUTURE });
    await fsp.writeFile(`${feed}.sig`, await signRaw(key.privateKey, feed));
    const { info } = await load(feed, key.publicPem);
    assert.equal(info.trusted, true);
  });

  it("a bad signature is exit 6: one byte of the feed changed after signing", async () => {
    const feed = await writeFeed(dir, { version: 7, expires: FUTURE });
    await signFeed(key.privateKey, feed);
    await fsp.appendFile(feed, " ");
    await rejectsGpm(load(feed), Exit.INTEGRITY, /bad signature .*releases\.json\.sig does not verify with feedKey/);
    await assert.rejects(fsp.stat(state), "nothing recorded");
  });

  it("a signature made with another key is exit 6", async () => {
    const other = await makeFeedKey(dir, "other");
    const feed = await writeFeed(dir, { version: 7, expires: FUTURE });
    await signFeed(other.privateKey, feed);
    await rejectsGpm(load(feed), Exit.INTEGRITY, /bad signature/);
  });

  it("a missing .sig is exit 6, and so is one that is not a signature", async () => {
    const feed = await writeFeed(dir, { version: 7, expires: FUTURE });
    await rejectsGpm(load(feed), Exit.INTEGRITY, /has no readable signature .*releases\.json\.sig.*feedKey is configured/);
    await fsp.writeFile(`${feed}.sig`, "hello\n");
    await rejectsGpm(load(feed), Exit.INTEGRITY, /is not a base64 ed25519 signature/);
  });

  it("a replayed lower version is exit 6 and the high-water mark is kept; the same version again is fine", async () => {
    const d8 = path.join(dir, "v8");
    const d5 = path.join(dir, "v5");
    await fsp.mkdir(d8);
    await fsp.mkdir(d5);
    const f8 = await writeFeed(d8, { version: 8, expires: FUTURE });
    const f5 = await writeFeed(d5, { version: 5, expires: FUTURE });
    await signFeed(key.privateKey, f8);
    await signFeed(key.privateKey, f5);
    await load(f8);
    await rejectsGpm(load(f5), Exit.INTEGRITY, /version 5 is lower than version 8 seen before: a replayed old feed/);
    assert.equal(await mark(), 8);
    await load(f8);
    assert.equal(await mark(), 8);
  });

  it("each key keeps its own mark: a rotated key's count starts afresh, the old key's mark stays", async () => {
    const rotated = await makeFeedKey(dir, "rotated");
    const f9 = await writeFeed(dir, { version: 9, expires: FUTURE }, "nine.json");
    await signFeed(key.privateKey, f9);
    await load(f9);
    const f1 = await writeFeed(dir, { version: 1, expires: FUTURE }, "one.json");
    await signFeed(rotated.privateKey, f1);
    assert.equal((await load(f1, rotated.publicBase64)).info.trusted, true);
    const keys = (JSON.parse(await fsp.readFile(state, "utf8")) as { keys: Record<string, { version: number }> }).keys;
    assert.deepEqual(Object.values(keys).map((k) => k.version).sort(), [1, 9]);
  });

  it("a .sig with one line per key (rotation overlap) passes when any line verifies", async () => {
    const other = await makeFeedKey(dir, "other");
    const feed = await writeFeed(dir, { version: 3, expires: FUTURE });
    const lines = [(await signRaw(other.privateKey, feed)).toString("base64"), (await signRaw(key.privateKey, feed)).toString("base64")];
    await fsp.writeFile(`${feed}.sig`, lines.join("\n") + "\n");
    assert.equal((await load(feed)).info.trusted, true);
    assert.equal((await load(feed, other.publicBase64)).info.trusted, true);
  });

  it("an expired feed is exit 6 (a frozen mirror)", async () => {
    const feed = await writeFeed(dir, { version: 7, expires: "2020-01-01T00:00:00Z" });
    await signFeed(key.privateKey, feed);
    await rejectsGpm(load(feed), Exit.INTEGRITY, /expired at 2020-01-01T00:00:00Z \(version 7\): a frozen or stale mirror/);
  });

  it("with feedKey, version and expires are required and must be well-formed", async () => {
    for (const [fields, re] of [
      [{ expires: FUTURE }, /field "version": is missing/],
      [{ version: "7", expires: FUTURE }, /field "version": must be a non-negative integer/],
      [{ version: 1.5, expires: FUTURE }, /field "version": must be a non-negative integer/],
      [{ version: 7 }, /field "expires": is missing/],
      [{ version: 7, expires: "next week" }, /field "expires": must be an ISO date-time/],
    ] as const) {
      const feed = await writeFeed(dir, fields);
      await signFeed(key.privateKey, feed);
      await rejectsGpm(load(feed), Exit.INTEGRITY, re);
    }
  });

  it("a signed GitHub Releases array is refused: it cannot carry version and expires", async () => {
    const feed = path.join(dir, "gh.json");
    await fsp.writeFile(feed, JSON.stringify([{ tag_name: "v1.8.0", assets: [] }]));
    await signFeed(key.privateKey, feed);
    await rejectsGpm(load(feed), Exit.INTEGRITY, /GitHub Releases array.*feedKey needs a native feed/);
  });

  it("without feedKey nothing is enforced or written; version and expires are still reported", async () => {
    const feed = await writeFeed(dir, { version: 4, expires: "2020-01-01T00:00:00Z" });
    const { info } = await load(feed, null);
    assert.deepEqual(info, { version: 4, expires: "2020-01-01T00:00:00Z", trusted: false });
    await assert.rejects(fsp.stat(state));
  });

  it("a damaged feed-state.json is named in a warning and rewritten from the feed read", async () => {
    const feed = await writeFeed(dir, { version: 2, expires: FUTURE });
    await signFeed(key.privateKey, feed);
    await fsp.mkdir(path.dirname(state), { recursive: true });
    await fsp.writeFile(state, "{not json");
    const lines: string[] = [];
    const log = createLogger("silent");
    const warn = log.warn.bind(log);
    log.warn = ((obj: unknown, msg?: string) => {
      lines.push(String(msg));
      return warn(obj as object, msg);
    }) as typeof log.warn;
    await load(feed, key.publicBase64, log);
    assert.ok(lines.some((l) => l.includes("feed-state.json is damaged")), lines.join("\n"));
    assert.equal(await mark(), 2);
  });

  it("signatureUrl adds .sig to the path, keeping a query string", () => {
    assert.equal(signatureUrl(new URL("https://x.test/a/releases.json?ch=stable#top")).href, "https://x.test/a/releases.json.sig?ch=stable");
    assert.equal(signatureUrl(new URL("file:///srv/feed.json")).href, "file:///srv/feed.json.sig");
  });

  it("parseSignatures reads base64 lines and refuses anything else", () => {
    assert.equal(parseSignatures(Buffer.from(Buffer.alloc(64, 1).toString("base64") + "\r\n"), "s").length, 1);
    throwsGpm(() => parseSignatures(Buffer.from(Buffer.alloc(32, 1).toString("base64")), "s"), Exit.INTEGRITY, /64 bytes/);
    throwsGpm(() => parseSignatures(Buffer.alloc(0), "s"), Exit.INTEGRITY);
  });

  it("config: feedKey that is not an ed25519 public key is refused naming the key (exit 1)", () => {
    throwsGpm(() => parseConfig({ feedKey: "abc" }, dir), Exit.ERROR, /gpm\.json: feedKey: expected a base64 ed25519 public key/);
    assert.equal(parseConfig({ feedKey: key.publicBase64 }, dir).feedKey, key.publicBase64);
    assert.equal(parseConfig({}, dir).feedKey, null);
  });
});
