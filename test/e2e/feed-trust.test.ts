import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { makeFeed, makeSite, notGpmState, runGpm, serveDir, tmpDir, treeHash, type Server } from "../helpers/fixtures.js";
import { makeFeedKey, signFeed, type FeedKeyPair } from "../helpers/openssl.js";

/** Feed trust through the real CLI, against a signed feed served on 127.0.0.1 (issue 13.1). */

const FUTURE = "2099-01-01T00:00:00Z";

describe("e2e: feed trust (feedKey)", function () {
  this.timeout(120_000);
  let base: string;
  let root: string;
  let feedDir: string;
  let server: Server;
  let key: FeedKeyPair;
  let feedUrl: string;

  before(async () => {
    key = await makeFeedKey(await tmpDir("gpm-keys-"));
  });
  beforeEach(async () => {
    base = await tmpDir();
    root = path.join(base, "site");
    feedDir = path.join(base, "feed");
    await makeSite(root, "1.7.48", { config: { feedKey: key.publicBase64 } });
    await makeFeed(feedDir, [{ version: "1.7.48" }, { version: "1.8.0" }]);
    server = await serveDir(feedDir);
    feedUrl = `${server.url}/releases.json`;
  });
  afterEach(async () => server.close());

  /** Give the served feed its `version` / `expires` and (unless `sign: false`) sign it with openssl. */
  async function publish(fields: { version?: number; expires?: string }, opts: { sign?: boolean } = {}): Promise<void> {
    const file = path.join(feedDir, "releases.json");
    const doc = JSON.parse(await fsp.readFile(file, "utf8")) as Record<string, unknown>;
    delete doc.version;
    delete doc.expires;
    await fsp.writeFile(file, JSON.stringify({ ...doc, ...fields }, null, 2));
    await fsp.rm(`${file}.sig`, { force: true });
    if (opts.sign ?? true) await signFeed(key.privateKey, file);
  }
  const gpm = (...args: string[]) => runGpm([...args, "--root", root, "--feed", feedUrl]);
  const state = async (): Promise<number[]> =>
    Object.values((JSON.parse(await fsp.readFile(path.join(root, ".gpm", "feed-state.json"), "utf8")) as { keys: Record<string, { version: number }> }).keys).map((k) => k.version);

  /** `args` is refused with exit 6 and one error line matching `re`; the site is untouched. */
  async function refused(re: RegExp, ...args: string[]): Promise<void> {
    const before = await treeHash(root, { exclude: notGpmState });
    const r = await gpm(...args);
    assert.equal(r.code, 6, r.stderr);
    const errors = r.stderr.split("\n").filter((l) => /error/i.test(l));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, re);
    assert.equal(await treeHash(root, { exclude: notGpmState }), before, "nothing changed");
  }

  it("a good signature: --check shows the feed's version and expiry; the upgrade runs; the version is remembered", async () => {
    await publish({ version: 12, expires: FUTURE });
    let r = await gpm("self-upgrade", "--check");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /feed version 12, expires 2099-01-01T00:00:00Z, signature verified with feedKey/);
    r = await gpm("self-upgrade", "--check", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).feed, { version: 12, expires: FUTURE, trusted: true });
    r = await gpm("self-upgrade", "--yes");
    assert.equal(r.code, 0, r.stderr);
    assert.match(await fsp.readFile(path.join(root, "system/defines.php"), "utf8"), /1\.8\.0/);
    assert.deepEqual(await state(), [12]);
  });

  it("a bad signature is exit 6, nothing changed", async () => {
    await publish({ version: 12, expires: FUTURE });
    await fsp.appendFile(path.join(feedDir, "releases.json"), "\n");
    await refused(/bad signature .*releases\.json\.sig does not verify with feedKey/, "self-upgrade", "--yes");
    await refused(/bad signature/, "self-upgrade", "--check");
    await refused(/bad signature/, "preflight");
  });

  it("a missing .sig is exit 6, nothing changed", async () => {
    await publish({ version: 12, expires: FUTURE }, { sign: false });
    await refused(/has no readable signature .*releases\.json\.sig.*HTTP 404/, "self-upgrade", "--yes");
  });

  it("a replayed lower version is exit 6 and the high-water mark stays; the same version still works", async () => {
    await publish({ version: 12, expires: FUTURE });
    assert.equal((await gpm("self-upgrade", "--check")).code, 0);
    await publish({ version: 11, expires: FUTURE });
    await refused(/version 11 is lower than version 12 seen before: a replayed old feed/, "self-upgrade", "--yes");
    assert.deepEqual(await state(), [12], "high-water mark kept");
    await publish({ version: 12, expires: FUTURE });
    const r = await gpm("self-upgrade", "--yes");
    assert.equal(r.code, 0, r.stderr);
    await publish({ version: 30, expires: FUTURE });
    assert.equal((await gpm("self-upgrade", "--check")).code, 0);
    assert.deepEqual(await state(), [30], "raised by a newer feed");
  });

  it("an expired feed (a frozen mirror) is exit 6, nothing changed", async () => {
    await publish({ version: 12, expires: "2021-06-01T00:00:00Z" });
    await refused(/expired at 2021-06-01T00:00:00Z \(version 12\): a frozen or stale mirror/, "self-upgrade", "--yes");
  });

  it("a signed feed without version or expires is exit 6", async () => {
    await publish({ expires: FUTURE });
    await refused(/field "version": is missing \(feedKey is configured\)/, "self-upgrade", "--yes");
  });
});
