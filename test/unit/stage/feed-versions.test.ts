import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { loadFeed, releasesBetween, selectRelease } from "../../../lib/stage/feed.js";
import { versioning } from "../../../lib/util/version.js";
import { Exit } from "../../../lib/util/errors.js";
import type { Logger } from "../../../lib/util/log.js";
import { tmpDir } from "../../helpers/fixtures.js";
import { throwsGpm } from "./helpers.js";

const HEX = "a".repeat(64);

/** A real pino logger whose warnings the test can read. */
function capture(): { log: Logger; warnings: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = pino({ level: "warn" }, stream) as unknown as Logger;
  return { log, warnings: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg) };
}

async function writeJson(dir: string, name: string, value: unknown): Promise<string> {
  const f = path.join(dir, name);
  await fsp.writeFile(f, JSON.stringify(value));
  return f;
}

describe("stage/feed: versionScheme", () => {
  it("php (default): 4-part versions are releases, ordered as Grav orders them; a bad version is skipped with one warning", async () => {
    const d = await tmpDir();
    const versions = ["1.7.49", "1.7.49.5", "1.7.50", "1.7.41.2", "1.8.0-beta.10", "1.8.0-beta.9", "latest", "1.8.0-foo"];
    const feed = await writeJson(d, "f.json", { releases: versions.map((v) => ({ version: v, url: `${v}.zip`, sha256: HEX, channel: /beta/.test(v) ? "testing" : "stable" })) });
    const c = capture();
    const releases = await loadFeed(feed, { log: c.log });
    assert.deepEqual(
      releases.map((r) => r.version),
      ["1.8.0-beta.10", "1.8.0-beta.9", "1.7.50", "1.7.49.5", "1.7.49", "1.7.41.2"],
    );
    assert.deepEqual(c.warnings().length, 2);
    assert.match(c.warnings()[0]!, /"latest" is not a php version; release skipped/);
    assert.match(c.warnings()[1]!, /"1\.8\.0-foo" is not a php version; release skipped/);
    assert.equal(selectRelease(releases, { channel: "stable" }).version, "1.7.50");
    assert.equal(selectRelease(releases, { channel: "testing" }).version, "1.8.0-beta.10");
    assert.equal(selectRelease(releases, { channel: "stable", version: "v1.7.49.5" }).version, "1.7.49.5");
    assert.deepEqual(releasesBetween(releases, "1.7.49", "1.7.50").map((r) => r.version), ["1.7.49.5", "1.7.50"]);
    assert.equal(releases[0]?.asset, "1.8.0-beta.10.zip", "a native release names its package file");
  });

  it("semver: a 4-part version is skipped with a warning instead of refusing the whole feed", async () => {
    const d = await tmpDir();
    const feed = await writeJson(d, "f.json", { releases: ["1.7.49.5", "1.10.0", "1.9.0"].map((v) => ({ version: v, url: `${v}.zip`, sha256: HEX })) });
    const c = capture();
    const v = versioning("semver");
    const releases = await loadFeed(feed, { log: c.log, versions: v });
    assert.deepEqual(releases.map((r) => r.version), ["1.10.0", "1.9.0"]);
    assert.match(c.warnings().join("\n"), /"1\.7\.49\.5" is not a semver version; release skipped/);
    throwsGpm(() => selectRelease(releases, { channel: "stable", version: "1.7.49.5", versions: v }), Exit.ERROR, /"1\.7\.49\.5" is not a version/);
  });
});

describe("stage/feed: assetPattern (GitHub releases carry several zips)", () => {
  const assets = (v: string): { name: string; browser_download_url: string; digest: string }[] =>
    [`grav-v${v}.zip`, `grav-admin-v${v}.zip`, `grav-update-v${v}.zip`].map((name) => ({ name, browser_download_url: `https://example.test/${name}`, digest: `sha256:${HEX}` }));

  it("takes the asset matching the Grav default, not the first .zip; a release without one is skipped with a warning", async () => {
    const d = await tmpDir();
    const feed = await writeJson(d, "gh.json", [
      { tag_name: "2.0.0", assets: assets("2.0.0") },
      { tag_name: "1.7.49.5", assets: assets("1.7.49.5") },
      { tag_name: "1.7.49", assets: [{ name: "grav-admin-v1.7.49.zip", browser_download_url: "https://example.test/a.zip", digest: `sha256:${HEX}` }] },
      { tag_name: "nightly-build", assets: assets("9") },
    ]);
    const c = capture();
    const releases = await loadFeed(feed, { log: c.log });
    assert.deepEqual(releases.map((r) => [r.version, r.asset, r.url]), [
      ["2.0.0", "grav-update-v2.0.0.zip", "https://example.test/grav-update-v2.0.0.zip"],
      ["1.7.49.5", "grav-update-v1.7.49.5.zip", "https://example.test/grav-update-v1.7.49.5.zip"],
    ]);
    const w = c.warnings();
    assert.equal(w.length, 2);
    assert.match(w.join("\n"), /release 1\.7\.49 has no asset matching assetPattern \^grav-update-v\?\[0-9\]\.\*\\\.zip\$ \(assets: grav-admin-v1\.7\.49\.zip\); release skipped/);
    assert.match(w.join("\n"), /tag "nightly-build" is not a php version; release skipped/);
  });

  it("a configured pattern picks another asset", async () => {
    const d = await tmpDir();
    const feed = await writeJson(d, "gh.json", [{ tag_name: "v2.0.0", assets: assets("2.0.0") }]);
    const [r] = await loadFeed(feed, { log: capture().log, assetPattern: "^grav-admin-" });
    assert.equal(r?.asset, "grav-admin-v2.0.0.zip");
  });
});
