import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, treeHash, runGpm } from "../../helpers/fixtures.js";
import { parseConfig, defaultConfig, loadConfig } from "../../../lib/install/config.js";
import { openInstallation, installedVersion, preservedNames } from "../../../lib/install/installation.js";
import { GpmError } from "../../../lib/util/errors.js";

const ROOT = "/srv/site";

function refuses(raw: unknown, key: RegExp): void {
  assert.throws(
    () => parseConfig(raw, ROOT),
    (err: unknown) => err instanceof GpmError && err.code === 1 && key.test(err.message),
    `expected a refusal naming ${key}`,
  );
}

describe("install: gpm.json", () => {
  it("has SPEC section 2's defaults for every key", () => {
    const c = defaultConfig();
    assert.equal(c.feed, null);
    assert.equal(c.channel, "stable");
    assert.deepEqual(c.preserve, ["user", "backup", "cache", "images", "logs", "tmp", ".htaccess", "robots.txt"]);
    assert.deepEqual(c.clearOnPromote, ["cache"]);
    assert.equal(c.snapshotDir, "snapshots");
    assert.equal(c.keep, 3);
    assert.equal(c.versionFile, "system/defines.php");
    assert.equal(c.versionPattern, `GRAV_VERSION['"],\\s*['"]([^'"]+)['"]`);
    assert.equal(c.versionScheme, "php");
    assert.equal(c.assetPattern, "^grav-update-v?[0-9].*\\.zip$");
    assert.equal(c.packagesFeed, null);
    assert.equal(c.postUpgrade, null);
    assert.deepEqual(c.smokeCheck, { command: null, phpServer: { router: "system/router.php", path: "/", failPattern: "Fatal error|Parse error|Please run: <i>bin/grav install" }, timeoutSec: 60 });
    assert.equal(c.siteUrl, null);
    assert.equal(c.healthUrl, null);
    assert.equal(c.maintenanceFlag, ".upgrading");
    assert.equal(c.recoveryFlag, "system/recovery.flag");
    assert.deepEqual(c.pluginDirs, ["user/plugins", "user/themes"]);
    assert.equal(c.publicKey, null);
    assert.deepEqual(c.limits, { maxFiles: 200000, maxUnpackedBytes: 2147483648, maxDownloadBytes: 1073741824, feedTimeoutSec: 60, stallTimeoutSec: 30 });
  });

  it("fills nested defaults and keeps what is given", () => {
    const c = parseConfig({ keep: 5, limits: { maxFiles: 10 }, smokeCheck: { command: ["true"] } }, ROOT);
    assert.equal(c.keep, 5);
    assert.deepEqual(c.limits, { maxFiles: 10, maxUnpackedBytes: 2147483648, maxDownloadBytes: 1073741824, feedTimeoutSec: 60, stallTimeoutSec: 30 });
    assert.deepEqual(c.smokeCheck, { command: ["true"], phpServer: null, timeoutSec: 60 });
    assert.equal(parseConfig({ smokeCheck: null }, ROOT).smokeCheck, null);
    // A timeout alone keeps the default phpServer check; a path of our own keeps the other defaults.
    assert.equal(parseConfig({ smokeCheck: { timeoutSec: 5 } }, ROOT).smokeCheck?.phpServer?.router, "system/router.php");
    assert.deepEqual(parseConfig({ smokeCheck: { phpServer: { path: "/health" } } }, ROOT).smokeCheck?.phpServer, { router: "system/router.php", path: "/health", failPattern: "Fatal error|Parse error|Please run: <i>bin/grav install" });
    assert.equal(parseConfig({ smokeCheck: { phpServer: null } }, ROOT).smokeCheck?.phpServer, null);
  });

  it("refuses a phpServer check beside a command, a router outside the root, a bad failPattern", () => {
    refuses({ smokeCheck: { command: ["true"], phpServer: {} } }, /smokeCheck: give either command or phpServer, not both/);
    refuses({ smokeCheck: { phpServer: { router: "../router.php" } } }, /smokeCheck\.phpServer\.router: "\.\.\/router\.php" must be a relative path inside the root/);
    refuses({ smokeCheck: { phpServer: { failPattern: "(" } } }, /smokeCheck\.phpServer\.failPattern: not a valid regular expression/);
    refuses({ siteUrl: "ftp://x" }, /siteUrl/);
    refuses({ limits: { stallTimeoutSec: 0 } }, /limits\.stallTimeoutSec/);
  });

  it("refuses an unknown key, naming it", () => {
    refuses({ feeed: "x" }, /feeed: unknown key/);
    refuses({ limits: { maxFile: 1 } }, /limits\.maxFile: unknown key/);
    refuses({ smokeCheck: { cmd: ["x"] } }, /smokeCheck\.cmd: unknown key/);
  });

  it("refuses a wrong type for each key, naming it", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ feed: 3 }, /^gpm\.json: feed:/],
      [{ channel: "beta" }, /^gpm\.json: channel:/],
      [{ preserve: "user" }, /^gpm\.json: preserve:/],
      [{ preserve: [1] }, /^gpm\.json: preserve\.0:/],
      [{ clearOnPromote: {} }, /^gpm\.json: clearOnPromote:/],
      [{ snapshotDir: "" }, /^gpm\.json: snapshotDir:/],
      [{ keep: 0 }, /^gpm\.json: keep:/],
      [{ keep: 1.5 }, /^gpm\.json: keep:/],
      [{ keep: "3" }, /^gpm\.json: keep:/],
      [{ versionFile: null }, /^gpm\.json: versionFile:/],
      [{ versionPattern: "([" }, /^gpm\.json: versionPattern:/],
      [{ postUpgrade: "php migrate" }, /^gpm\.json: postUpgrade:/],
      [{ postUpgrade: [] }, /^gpm\.json: postUpgrade:/],
      [{ smokeCheck: { command: "php check" } }, /^gpm\.json: smokeCheck\.command:/],
      [{ smokeCheck: { timeoutSec: -1 } }, /^gpm\.json: smokeCheck\.timeoutSec:/],
      [{ healthUrl: "ftp://example.org" }, /^gpm\.json: healthUrl:/],
      [{ healthUrl: "not a url" }, /^gpm\.json: healthUrl:/],
      [{ maintenanceFlag: 7 }, /^gpm\.json: maintenanceFlag:/],
      [{ recoveryFlag: [] }, /^gpm\.json: recoveryFlag:/],
      [{ pluginDirs: [""] }, /^gpm\.json: pluginDirs\.0:/],
      [{ publicKey: "c2hvcnQ=" }, /^gpm\.json: publicKey:/],
      [{ limits: { maxFiles: -5 } }, /^gpm\.json: limits\.maxFiles:/],
      [{ limits: { maxUnpackedBytes: "2G" } }, /^gpm\.json: limits\.maxUnpackedBytes:/],
      [{ limits: { maxDownloadBytes: 0 } }, /^gpm\.json: limits\.maxDownloadBytes:/],
    ];
    for (const [raw, key] of cases) refuses(raw, key);
  });

  it("refuses a path that escapes the root, for every path key", () => {
    refuses({ snapshotDir: "../elsewhere" }, /snapshotDir: "\.\.\/elsewhere" must be a relative path inside the root/);
    refuses({ snapshotDir: "/var/backups" }, /snapshotDir/);
    refuses({ snapshotDir: "." }, /snapshotDir/);
    refuses({ versionFile: "../../etc/passwd" }, /versionFile/);
    refuses({ maintenanceFlag: "/tmp/flag" }, /maintenanceFlag/);
    refuses({ recoveryFlag: "system/../../x" }, /recoveryFlag/);
    refuses({ preserve: ["user", "../x"] }, /preserve\[1\]/);
    refuses({ clearOnPromote: ["/tmp"] }, /clearOnPromote\[0\]/);
    refuses({ pluginDirs: ["user/plugins", "user/../../x"] }, /pluginDirs\[1\]/);
  });

  it("refuses a gpm.json that is not JSON or not an object, and a --config that cannot be read", async () => {
    const root = await tmpDir();
    await fsp.writeFile(path.join(root, "gpm.json"), "{ feed: nope");
    await assert.rejects(loadConfig(root), /gpm\.json is not valid JSON/);
    await fsp.writeFile(path.join(root, "gpm.json"), "[1, 2]");
    await assert.rejects(loadConfig(root), /top level must be a JSON object/);
    await assert.rejects(loadConfig(root, path.join(root, "missing.json")), /cannot read config/);
    await fsp.rm(path.join(root, "gpm.json"));
    assert.deepEqual(await loadConfig(root), defaultConfig(), "no gpm.json: all defaults");
  });

  it("always preserves the snapshot store, .gpm/, gpm.json and the maintenance flag", async () => {
    const root = await tmpDir();
    await fsp.writeFile(path.join(root, "gpm.json"), JSON.stringify({ preserve: ["user"], snapshotDir: "backups/gpm", maintenanceFlag: "maint.json" }));
    const inst = await openInstallation({ root });
    assert.deepEqual([...preservedNames(inst)].sort(), [".gpm", "backups", "gpm.json", "maint.json", "user"]);
  });

  it("reads the installed version from metadata.json, else from the app's versionFile", async () => {
    const root = await tmpDir();
    await makeSite(root, "1.7.48");
    const inst = await openInstallation({ root });
    assert.equal(await installedVersion(inst), "1.7.48");
    await fsp.mkdir(path.join(root, ".gpm"));
    await fsp.writeFile(path.join(root, ".gpm/metadata.json"), JSON.stringify({ structure_version: 3, installation_version: "1.8.0" }));
    assert.equal(await installedVersion(inst), "1.8.0");
  });

  it("CLI: a bad gpm.json is exit 1 naming the key, and nothing changes", async () => {
    const root = await tmpDir();
    await makeSite(root, "1.7.48", { config: { keep: "three" } });
    const before = await treeHash(root);
    for (const cmd of [["self-upgrade", "--feed", "/nonexistent"], ["status"], ["preflight"], ["rollback"]]) {
      const r = await runGpm([...cmd, "--root", root]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^error: gpm\.json: keep: .* — fix the key in gpm\.json/m);
    }
    assert.equal(await treeHash(root), before);
    const original = await fsp.readFile(path.join(root, "gpm.json"));
    await fsp.writeFile(path.join(root, "gpm.json"), "not json {");
    const r = await runGpm(["self-upgrade", "--root", root, "--feed", "/nonexistent"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /gpm\.json is not valid JSON/);
    await fsp.writeFile(path.join(root, "gpm.json"), original);
    assert.equal(await treeHash(root), before);
  });

  it("CLI: a --root that does not exist or is not an installation is exit 1; a usage error is exit 2", async () => {
    let r = await runGpm(["status", "--root", "/nonexistent/gpm-root"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /root \/nonexistent\/gpm-root does not exist/);
    const empty = await tmpDir();
    r = await runGpm(["self-upgrade", "--root", empty, "--feed", "/nonexistent.json"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not an installation/);
    assert.deepEqual(await fsp.readdir(empty), [], "nothing written into a folder that is not an installation");
    r = await runGpm(["self-upgrade", "--no-such-flag"]);
    assert.equal(r.code, 2);
    r = await runGpm([]);
    assert.equal(r.code, 2);
  });
});
