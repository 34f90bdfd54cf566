import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadFeed, parseVersionArg, releasesBetween, selectRelease } from "../../../lib/stage/feed.js";
import type { Release } from "../../../lib/stage/types.js";
import { Exit } from "../../../lib/util/errors.js";
import { silentLogger } from "../../../lib/util/log.js";
import { makeFeed, serveDir, tmpDir, type Server } from "../../helpers/fixtures.js";
import { rejectsGpm, throwsGpm } from "./helpers.js";

const log = silentLogger;
const HEX_A = "a".repeat(64);
const HEX_B = "b".repeat(64);

function rel(version: string, channel: "stable" | "testing" = "stable", sha256 = HEX_A): Release {
  return { version, url: `https://example.test/${version}.zip`, sha256, size: null, date: null, channel, changelog: `* ${version}`, requires: {}, conflicts: [], signature: null };
}

async function writeJson(file: string, value: unknown): Promise<string> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, JSON.stringify(value));
  return file;
}

describe("stage/feed: reading", () => {
  let servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });
  const serve = async (dir: string, routes?: Parameters<typeof serveDir>[1]): Promise<Server> => {
    const s = await serveDir(dir, routes);
    servers.push(s);
    return s;
  };

  it("reads a native feed from a path, newest first, with relative urls resolved against the feed", async () => {
    const d = await tmpDir();
    const feed = await makeFeed(path.join(d, "feed"), [
      { version: "1.7.48" },
      { version: "1.8.0", requires: { php: ">=8.1" }, conflicts: [{ package: "psr/log", versions: "<3", message: "needs psr/log 3" }] },
    ]);
    const releases = await loadFeed(path.relative(process.cwd(), feed), { log });
    assert.deepEqual(releases.map((r) => r.version), ["1.8.0", "1.7.48"]);
    const r = releases[0]!;
    assert.equal(fileURLToPath(r.url), path.join(d, "feed", "grav-update-1.8.0.zip"));
    assert.match(r.sha256, /^[0-9a-f]{64}$/);
    assert.equal(r.channel, "stable");
    assert.deepEqual(r.requires, { php: ">=8.1" });
    assert.equal(r.conflicts[0]?.package, "psr/log");
    assert.equal(r.signature, null);
    // a file:// URL and a path relative to baseDir read the same feed
    assert.equal((await loadFeed(pathToFileURL(feed).href, { log }))[0]?.url, r.url);
    assert.equal((await loadFeed("feed/releases.json", { log, baseDir: d }))[0]?.url, r.url);
  });

  it("reads a native feed over http, resolving relative urls to the server", async () => {
    const d = await tmpDir();
    await makeFeed(d, [{ version: "1.8.0", extra: { url: "zips/../grav-update-1.8.0.zip", signature: "c2ln" } }]);
    const s = await serve(d);
    const [r] = await loadFeed(`${s.url}/releases.json`, { log });
    assert.equal(r?.url, `${s.url}/grav-update-1.8.0.zip`);
    assert.equal(r?.signature, "c2ln");
  });

  it("reads a GitHub releases array: tag v-prefix, body, prerelease as testing, first .zip asset, digest", async () => {
    const d = await tmpDir();
    const s = await serve(d);
    const feed = [
      { tag_name: "v1.9.0-beta.1", body: "beta notes", prerelease: true, published_at: "2025-11-01T00:00:00Z", assets: [{ name: "grav-update-v1.9.0-beta.1.zip", browser_download_url: `${s.url}/b.zip`, size: 10, digest: `sha256:${HEX_B.toUpperCase()}` }] },
      {
        tag_name: "v1.8.0",
        body: "## 1.8.0\n* new",
        prerelease: false,
        assets: [
          { name: "notes.txt", browser_download_url: `${s.url}/notes.txt` },
          { name: "grav-update-v1.8.0.zip", browser_download_url: `${s.url}/u.zip`, size: 123, digest: `sha256:${HEX_A}` },
          { name: "grav-admin-v1.8.0.zip", browser_download_url: `${s.url}/admin.zip`, digest: `sha256:${HEX_B}` },
        ],
      },
      { tag_name: "v2.0.0", draft: true, assets: [{ name: "x.zip", browser_download_url: `${s.url}/x.zip`, digest: `sha256:${HEX_A}` }] },
      { tag_name: "v1.7.0", assets: [{ name: "source.tar.gz", browser_download_url: `${s.url}/s.tgz` }] },
    ];
    await writeJson(path.join(d, "gh.json"), feed);
    const releases = await loadFeed(`${s.url}/gh.json`, { log });
    assert.deepEqual(releases.map((r) => r.version), ["1.9.0-beta.1", "1.8.0"], "drafts and releases without a zip are skipped");
    const [beta, stable] = releases as [Release, Release];
    assert.equal(beta.channel, "testing");
    assert.equal(beta.sha256, HEX_B, "digest hex is lower-cased");
    assert.equal(beta.date, "2025-11-01T00:00:00Z");
    assert.equal(stable.channel, "stable");
    assert.equal(stable.url, `${s.url}/u.zip`, "the first .zip asset");
    assert.equal(stable.sha256, HEX_A);
    assert.equal(stable.size, 123);
    assert.equal(stable.changelog, "## 1.8.0\n* new");
  });

  it("reads a GitHub release's hash from its SHA256SUMS asset", async () => {
    const d = await tmpDir();
    const s = await serve(d, {
      "/sums/SHA256SUMS": { body: `${HEX_B}  other.zip\n${HEX_A} *grav-update-v1.8.0.zip\n` },
    });
    await writeJson(path.join(d, "gh.json"), [
      {
        tag_name: "1.8.0",
        assets: [
          { name: "grav-update-v1.8.0.zip", browser_download_url: `${s.url}/u.zip` },
          { name: "SHA256SUMS", browser_download_url: `${s.url}/sums/SHA256SUMS` },
        ],
      },
      { tag_name: "1.7.0", assets: [{ name: "grav-update-v1.7.0.zip", browser_download_url: `${s.url}/u7.zip` }, { name: "SHA256SUMS", browser_download_url: `${s.url}/missing/SHA256SUMS` }] },
    ]);
    const releases = await loadFeed(`${s.url}/gh.json`, { log });
    assert.equal(releases[0]?.sha256, HEX_A);
    assert.ok(s.requests.includes("/sums/SHA256SUMS"));
    assert.equal(releases[1]?.sha256, "", "an unreadable SHA256SUMS leaves the release without a hash");
    await rejectsGpm(Promise.resolve().then(() => selectRelease(releases, { version: "1.7.0", channel: "stable" })), Exit.INTEGRITY, /1\.7\.0 has no sha256/);
  });

  it("refuses no feed, a feed that is not JSON, not a feed, unreachable, or answering 404 (exit 1, naming the feed)", async () => {
    const d = await tmpDir();
    await rejectsGpm(loadFeed(null, { log }), Exit.ERROR, /no feed configured — set feed in gpm.json or pass --feed/);
    await fsp.writeFile(path.join(d, "broken.json"), "{ not json");
    await rejectsGpm(loadFeed(path.join(d, "broken.json"), { log }), Exit.ERROR, /broken\.json is not valid JSON/);
    await writeJson(path.join(d, "other.json"), { versions: [] });
    await rejectsGpm(loadFeed(path.join(d, "other.json"), { log }), Exit.ERROR, /other\.json: expected \{"releases"/);
    await rejectsGpm(loadFeed(path.join(d, "absent.json"), { log }), Exit.ERROR, /absent\.json cannot be read: ENOENT/);
    await rejectsGpm(loadFeed("ftp://example.test/feed.json", { log }), Exit.ERROR, /only http\(s\):\/\/, file:\/\/ or a path/);

    // a port that was just closed: connection refused
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await rejectsGpm(loadFeed(`http://127.0.0.1:${port}/releases.json`, { log }), Exit.ERROR, new RegExp(`feed http://127\\.0\\.0\\.1:${port}/releases\\.json is unreachable: ECONNREFUSED`));

    const s = await serve(d, { "/bad.json": { body: "<html>oops</html>" } });
    await rejectsGpm(loadFeed(`${s.url}/nope.json`, { log }), Exit.ERROR, /feed http:.*\/nope\.json failed: HTTP 404/);
    await rejectsGpm(loadFeed(`${s.url}/bad.json`, { log }), Exit.ERROR, /bad\.json is not valid JSON/);
  });

  it("refuses a release with a missing or ill-typed field, naming the release and the field", async () => {
    const d = await tmpDir();
    const base = { version: "1.8.0", url: "a.zip", sha256: HEX_A };
    const cases: [unknown, RegExp][] = [
      [{ ...base, url: undefined }, /release #2 \(1\.8\.0\): field "url": is missing/],
      [{ ...base, size: "big" }, /release #2 \(1\.8\.0\): field "size": expected number/],
      [{ ...base, sha256: "abc" }, /field "sha256": expected 64 hex digits/],
      [{ ...base, channel: "nightly" }, /field "channel"/],
      [{ ...base, conflicts: [{ package: "psr/log" }] }, /field "conflicts\.0\.versions": is missing/],
      [{ url: "a.zip", sha256: HEX_A }, /release #2: field "version": is missing/],
    ];
    for (const [bad, re] of cases) {
      const f = await writeJson(path.join(d, "f.json"), { releases: [{ version: "1.7.0", url: "b.zip", sha256: HEX_B }, bad] });
      await rejectsGpm(loadFeed(f, { log }), Exit.ERROR, re);
    }
    const dup = await writeJson(path.join(d, "dup.json"), { releases: [base, { ...base, version: "v1.8.0" }] });
    await rejectsGpm(loadFeed(dup, { log }), Exit.ERROR, /lists version 1\.8\.0 twice/);
  });

  it("keeps a release without sha256 in the list but refuses to select it (exit 6)", async () => {
    const d = await tmpDir();
    const feed = await makeFeed(d, [{ version: "1.7.0" }, { version: "1.8.0", omitSha: true }]);
    const releases = await loadFeed(feed, { log });
    assert.equal(releases[0]?.sha256, "");
    await rejectsGpm(Promise.resolve().then(() => selectRelease(releases, { channel: "stable" })), Exit.INTEGRITY, /release 1\.8\.0 has no sha256/);
    assert.equal(selectRelease(releases, { channel: "stable", requireSha256: false }).version, "1.8.0");
    assert.equal(selectRelease(releases, { channel: "stable", version: "1.7.0" }).version, "1.7.0");
  });

  it("refuses a file:// (or other non-http) release url in an http feed as unsafe (exit 6)", async () => {
    const d = await tmpDir();
    const s = await serve(d);
    await writeJson(path.join(d, "f.json"), { releases: [{ version: "1.8.0", url: "file:///etc/passwd", sha256: HEX_A }] });
    await rejectsGpm(loadFeed(`${s.url}/f.json`, { log }), Exit.INTEGRITY, /unsafe release url .*release #1 \(1\.8\.0\)/);
    await writeJson(path.join(d, "g.json"), [{ tag_name: "v1.8.0", assets: [{ name: "grav-update-v1.8.0.zip", browser_download_url: "file:///tmp/a.zip", digest: `sha256:${HEX_A}` }] }]);
    await rejectsGpm(loadFeed(`${s.url}/g.json`, { log }), Exit.INTEGRITY, /unsafe release url/);
    await writeJson(path.join(d, "h.json"), { releases: [{ version: "1.8.0", url: "data:application/zip;base64,AAAA", sha256: HEX_A }] });
    await rejectsGpm(loadFeed(path.join(d, "h.json"), { log }), Exit.INTEGRITY, /unsafe release url/);
    // a local feed may point at local files or at http(s)
    await writeJson(path.join(d, "ok.json"), { releases: [{ version: "1.8.0", url: "file:///srv/a.zip", sha256: HEX_A }, { version: "1.7.0", url: `${s.url}/b.zip`, sha256: HEX_A }] });
    assert.equal((await loadFeed(path.join(d, "ok.json"), { log })).length, 2);
  });
});

describe("stage/feed: choosing a release", () => {
  const releases = [rel("1.9.0"), rel("1.10.0"), rel("1.10.1-rc.1", "testing"), rel("1.8.0"), rel("2.0.0-beta.1", "testing")];

  it("picks the newest by semver (1.10.0 > 1.9.0) on the stable channel, pre-releases only on testing", () => {
    assert.equal(selectRelease(releases, { channel: "stable" }).version, "1.10.0");
    assert.equal(selectRelease(releases, { channel: "testing" }).version, "2.0.0-beta.1");
  });

  it("reads 1.8.0, v1.8.0 and grav@1.8.0 as the same version; an explicit version may be on any channel", () => {
    for (const v of ["1.8.0", "v1.8.0", "grav@1.8.0", "grav@v1.8.0"]) assert.equal(selectRelease(releases, { version: v, channel: "stable" }).version, "1.8.0");
    assert.equal(selectRelease(releases, { version: "1.10.1-rc.1", channel: "stable" }).channel, "testing");
    assert.equal(parseVersionArg("grav@1.8.0"), "1.8.0");
    throwsGpm(() => parseVersionArg("grav@latest"), Exit.ERROR, /"grav@latest" is not a version/);
  });

  it("refuses an unknown version (exit 1), listing what is available", () => {
    throwsGpm(() => selectRelease(releases, { version: "3.0.0", channel: "stable" }), Exit.ERROR, /version 3\.0\.0 is not in the feed; available: 2\.0\.0-beta\.1, 1\.10\.1-rc\.1, 1\.10\.0, 1\.9\.0, 1\.8\.0/);
    throwsGpm(() => selectRelease([rel("1.0.0-beta.1", "testing")], { channel: "stable" }), Exit.ERROR, /no stable release/);
  });

  it("releasesBetween gives the versions after `from` up to `to`, oldest first", () => {
    assert.deepEqual(releasesBetween(releases, "1.8.0", "1.10.0").map((r) => r.version), ["1.9.0", "1.10.0"]);
    assert.deepEqual(releasesBetween(releases, "1.9.0", "2.0.0-beta.1").map((r) => r.version), ["1.10.0", "1.10.1-rc.1", "2.0.0-beta.1"]);
    assert.deepEqual(releasesBetween(releases, "1.9.0", "2.0.0-beta.1", { channel: "stable" }).map((r) => r.version), ["1.10.0", "2.0.0-beta.1"]);
    assert.deepEqual(releasesBetween(releases, null, "1.9.0").map((r) => r.version), ["1.8.0", "1.9.0"]);
    assert.deepEqual(releasesBetween(releases, "1.10.0", "1.10.0"), []);
  });
});
