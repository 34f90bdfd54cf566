import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { checkRuntimeNode } from "../../../lib/preflight/runtime-node.js";
import { checkRuntimePhp } from "../../../lib/preflight/runtime-php.js";
import { checkPhpExtensions } from "../../../lib/preflight/php-extensions.js";
import { checkDiskSpace } from "../../../lib/preflight/disk-space.js";
import { checkRootWritable } from "../../../lib/preflight/root-writable.js";
import { checkSameFilesystem } from "../../../lib/preflight/same-filesystem.js";
import { checkPluginConflicts } from "../../../lib/preflight/plugin-conflicts.js";
import { checkModifiedCore } from "../../../lib/preflight/modified-core.js";
import { checkPendingTransaction } from "../../../lib/preflight/pending-transaction.js";
import { checkRecoveryMode } from "../../../lib/preflight/recovery-mode.js";
import { checkMaintenanceFlag } from "../../../lib/preflight/maintenance-flag.js";
import { checkSmokeCommand, checkPostUpgradeCommand } from "../../../lib/preflight/smoke-command.js";
import type { CheckResult } from "../../../lib/preflight/types.js";
import { tmpDir, writeTree } from "../../helpers/fixtures.js";
import { site, input, release, recordInstall, fakePhpBin, withPath } from "./preflight-fixtures.js";

function assertFail(r: CheckResult, id: string, ...parts: (string | RegExp)[]): void {
  assert.equal(r.id, id);
  assert.equal(r.status, "fail", r.message);
  assert.ok(r.fix, "a failure says what to do");
  for (const p of parts) assert.match(r.message, typeof p === "string" ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : p);
}

function assertPass(r: CheckResult, id: string): void {
  assert.equal(r.id, id);
  assert.equal(r.status, "pass", r.message);
  assert.equal(r.fix, null);
}

describe("preflight checks", () => {
  describe("runtime-node", () => {
    it("passes when the running Node.js satisfies requires.node, fails otherwise", async () => {
      const inst = await site();
      assertPass(await checkRuntimeNode(input(inst, { release: release({ requires: { node: ">=18" } }) })), "runtime-node");
      assertPass(await checkRuntimeNode(input(inst)), "runtime-node");
      assertFail(await checkRuntimeNode(input(inst, { release: release({ requires: { node: ">=99" } }) })), "runtime-node", ">=99", process.version);
      assertFail(await checkRuntimeNode(input(inst, { release: release({ requires: { node: "banana" } }) })), "runtime-node", "not a valid version range");
    });
  });

  describe("runtime-php", () => {
    it("reads the version of the php on PATH and matches it as a Composer constraint", async () => {
      const inst = await site();
      const bin = await fakePhpBin({ version: "8.2.7-1ubuntu1" });
      await withPath([bin], async () => {
        assertPass(await checkRuntimePhp(input(inst, { release: release({ requires: { php: ">=8.1" } }) })), "runtime-php");
        assertPass(await checkRuntimePhp(input(inst, { release: release({ requires: { php: "^8.1 | ^8.2" } }) })), "runtime-php");
        assertFail(await checkRuntimePhp(input(inst, { release: release({ requires: { php: "^8.3" } }) })), "runtime-php", "^8.3", "8.2.7-1ubuntu1");
      });
    });

    it("fails when php is required but absent; passes when it is not required", async () => {
      const inst = await site();
      const empty = await tmpDir("gpm-nophp-");
      await withPath([empty], async () => {
        const r = await checkRuntimePhp(input(inst, { release: release({ requires: { php: ">=8.1" } }) }));
        assertFail(r, "runtime-php");
        assert.equal(r.message, "php is required (>=8.1) but not found on PATH");
        assertPass(await checkRuntimePhp(input(inst)), "runtime-php");
      });
    });

    it("fails with php's own error when php is broken", async () => {
      const inst = await site();
      const bin = await fakePhpBin({ version: null });
      await withPath([bin], async () => {
        assertFail(await checkRuntimePhp(input(inst, { release: release({ requires: { php: ">=8.1" } }) })), "runtime-php", "broken install");
      });
    });
  });

  describe("php-extensions", () => {
    it("passes when every required extension is loaded (case-insensitive, Zend ones too)", async () => {
      const inst = await site();
      const bin = await fakePhpBin({ modules: ["Core", "curl", "zip"] });
      await withPath([bin], async () => {
        assertPass(await checkPhpExtensions(input(inst, { release: release({ requires: { extensions: ["ZIP", "curl", "opcache"] } }) })), "php-extensions");
        assertFail(await checkPhpExtensions(input(inst, { release: release({ requires: { extensions: ["zip", "gd", "intl"] } }) })), "php-extensions", "gd, intl");
      });
    });

    it("fails when extensions are required and php is absent; passes when none are", async () => {
      const inst = await site();
      const empty = await tmpDir("gpm-nophp-");
      await withPath([empty], async () => {
        assertFail(await checkPhpExtensions(input(inst, { release: release({ requires: { extensions: ["zip"] } }) })), "php-extensions", "php is not found on PATH");
        assertPass(await checkPhpExtensions(input(inst)), "php-extensions");
      });
    });
  });

  describe("disk-space", () => {
    it("passes with room for 3 x the package + user/ + 10%, fails with the numbers otherwise", async () => {
      const inst = await site();
      assertPass(await checkDiskSpace(input(inst, { release: release({ size: 1000 }) })), "disk-space");
      const r = await checkDiskSpace(input(inst, { release: release({ size: 4 * 1024 ** 5 }) }));
      assertFail(r, "disk-space", "not enough disk space", "4.0 PiB x 3", /free on /);
    });

    it("warns when the feed gives no package size", async () => {
      const inst = await site();
      const r = await checkDiskSpace(input(inst, { release: release({ size: null }) }));
      assert.equal(r.status, "warn");
      assert.match(r.message, /size unknown/);
    });
  });

  describe("root-writable", () => {
    /**
     * access(2) says yes to root whatever the modes, so as root the check runs
     * in a child process as `nobody` (uid 65534) against a tree it does not own.
     */
    async function runAsOtherUser(root: string): Promise<CheckResult> {
      const mod = (name: string): string => pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../lib", name)).href;
      const script = `
        const { openInstallation } = await import(${JSON.stringify(mod("install/installation.js"))});
        const { checkRootWritable } = await import(${JSON.stringify(mod("preflight/root-writable.js"))});
        const { silentLogger } = await import(${JSON.stringify(mod("util/log.js"))});
        const inst = await openInstallation({ root: ${JSON.stringify(root)} });
        process.stdout.write(JSON.stringify(await checkRootWritable({ inst, release: null, log: silentLogger, installed: "1.7.48" })));`;
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { uid: 65534, gid: 65534, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      assert.equal(code, 0, err);
      return JSON.parse(out) as CheckResult;
    }

    const asRoot = process.getuid?.() === 0;
    /**
     * As root the check runs as `nobody`, which must be able to read this
     * checkout's dist/ and node_modules/. A clone under a private folder (e.g.
     * `mktemp -d`, mode 0700) is out of its reach: say so and skip, rather than
     * fail on where the repository happens to live.
     */
    let nobodyCanRead = true;
    before(async function () {
      if (!asRoot) return;
      const probe = spawn(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../lib/install/installation.js")).href)})`], { uid: 65534, gid: 65534, stdio: "ignore" });
      nobodyCanRead = (await new Promise<number | null>((resolve) => probe.on("close", resolve))) === 0;
      if (!nobodyCanRead) console.log("      (root-writable: uid 65534 cannot read this checkout, so the as-nobody cases are skipped)");
    });
    beforeEach(function () {
      if (!nobodyCanRead) this.skip();
    });
    /** Make `p` (and, with `tree`, everything below it) belong to the test's "other user" when running as root. */
    async function giveAway(p: string, tree: boolean): Promise<void> {
      if (!asRoot) return;
      if (tree) for (const e of await fsp.readdir(p, { recursive: true })) await fsp.lchown(path.join(p, e), 65534, 65534);
      await fsp.chown(p, 65534, 65534);
    }
    const check = async (root: string): Promise<CheckResult> => {
      if (asRoot) return runAsOtherUser(root);
      const { openInstallation } = await import("../../../lib/install/installation.js");
      return checkRootWritable(input(await openInstallation({ root })));
    };

    it("passes when the root, the snapshot store and the core folders are writable", async () => {
      const inst = await site();
      await fsp.chmod(inst.root, 0o755);
      await giveAway(inst.root, true);
      assertPass(await check(inst.root), "root-writable");
    });

    it("fails naming a core folder that cannot be moved (read-only)", async () => {
      const inst = await site();
      await fsp.chmod(inst.root, 0o755);
      await giveAway(inst.root, true);
      // As root: `system` back to root's ownership (0755) is read-only for the other user.
      if (asRoot) await fsp.chown(path.join(inst.root, "system"), 0, 0);
      else await fsp.chmod(path.join(inst.root, "system"), 0o555);
      try {
        const r = await check(inst.root);
        assertFail(r, "root-writable");
        assert.match(r.message, /: system$/, "only the read-only entry is named");
      } finally {
        await fsp.chmod(path.join(inst.root, "system"), 0o755);
      }
    });

    it("fails naming the root itself when it is read-only", async () => {
      const inst = await site();
      await fsp.chmod(inst.root, asRoot ? 0o755 : 0o555);
      try {
        assertFail(await check(inst.root), "root-writable", inst.root);
      } finally {
        await fsp.chmod(inst.root, 0o755);
      }
    });
  });

  describe("same-filesystem", () => {
    let shm: string | null = null;
    after(async () => {
      if (shm) await fsp.rm(shm, { recursive: true, force: true });
    });

    it("passes when the snapshot store (or its nearest existing ancestor) shares the root's device", async () => {
      const inst = await site();
      assertPass(await checkSameFilesystem(input(inst)), "same-filesystem");
    });

    it("fails when the snapshot store is on another file system", async function () {
      const inst = await site();
      const other = fs.existsSync("/dev/shm") ? "/dev/shm" : null;
      if (!other || fs.statSync(other).dev === fs.statSync(inst.root).dev) this.skip();
      shm = await fsp.mkdtemp(path.join(other, "gpm-test-"));
      await fsp.symlink(shm, path.join(inst.root, "snapshots"));
      const r = await checkSameFilesystem(input(inst));
      assertFail(r, "same-filesystem", path.join(inst.root, "snapshots"), `(${shm})`);
      assert.equal(r.fix, "promote needs atomic renames; set snapshotDir to a folder on the same file system");
    });
  });

  describe("plugin-conflicts", () => {
    const rule = { package: "psr/log", versions: "<3", message: "this release ships psr/log 3" };

    it("passes a plugin that also accepts the shipped major (^1.0 || ^3.0)", async () => {
      const inst = await site(); // makeSite's myplugin requires psr/log "^1.0 || ^3.0"
      const r = await checkPluginConflicts(input(inst, { release: release({ conflicts: [rule] }) }));
      assertPass(r, "plugin-conflicts");
      assert.match(r.message, /1 plugin\/theme composer.json file checked against 1 conflict rule/);
    });

    it("fails naming plugin, package, constraint, range and message (^1.0 under a psr/log 3 release)", async () => {
      const inst = await site({
        extra: { "user/plugins/oldlog/composer.json": JSON.stringify({ name: "acme/oldlog", require: { "PSR/Log": "^1.0", php: ">=7.4" } }) },
      });
      const r = await checkPluginConflicts(input(inst, { release: release({ conflicts: [rule] }) }));
      assertFail(r, "plugin-conflicts", "user/plugins/oldlog requires", "psr/log", '"^1.0"', "psr/log <3", "this release ships psr/log 3");
      assert.doesNotMatch(r.message, /myplugin/);
    });

    it("checks themes too, and warns about requirements it cannot judge", async () => {
      const inst = await site({
        extra: {
          "user/themes/quark/composer.json": JSON.stringify({ require: { "psr/log": "dev-master" } }),
          "user/themes/broken/composer.json": "{ not json",
        },
      });
      const r = await checkPluginConflicts(input(inst, { release: release({ conflicts: [rule] }) }));
      assert.equal(r.status, "warn");
      assert.match(r.message, /user\/themes\/quark requires psr\/log "dev-master"/);
      assert.match(r.message, /user\/themes\/broken: composer.json is not valid JSON/);
      const themed = await site({ extra: { "user/themes/old/composer.json": JSON.stringify({ require: { "psr/log": "~1.1" } }) } });
      assertFail(await checkPluginConflicts(input(themed, { release: release({ conflicts: [rule] }) })), "plugin-conflicts", "user/themes/old");
    });

    it("fails when the release's own conflict range is malformed; passes when there are no rules", async () => {
      const inst = await site();
      assertFail(await checkPluginConflicts(input(inst, { release: release({ conflicts: [{ package: "psr/log", versions: "<<3" }] }) })), "plugin-conflicts", '"<<3"');
      assertPass(await checkPluginConflicts(input(inst)), "plugin-conflicts");
    });
  });

  describe("modified-core", () => {
    it("passes an unmanaged installation (no manifest)", async () => {
      const inst = await site();
      const r = await checkModifiedCore(input(inst));
      assertPass(r, "modified-core");
      assert.equal(r.message, "no record of the installed files (unmanaged installation)");
    });

    it("passes when the live core files match the current manifest's files.json", async () => {
      const inst = await site();
      await recordInstall(inst, "20251017T000000Z-1.7.48", "1.7.48", ["index.php", "system/defines.php", "bin/grav"]);
      const r = await checkModifiedCore(input(inst));
      assertPass(r, "modified-core");
      assert.match(r.message, /3 core files match/);
    });

    it("warns listing at most 5 modified/missing paths and the count", async () => {
      const inst = await site({ extra: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`system/extra${i}.php`, `<?php // ${i}\n`])) });
      const files = ["index.php", "system/defines.php", ...Array.from({ length: 6 }, (_, i) => `system/extra${i}.php`)];
      await recordInstall(inst, "20251017T000000Z-1.7.48", "1.7.48", files);
      await fsp.appendFile(path.join(inst.root, "index.php"), "// hacked\n");
      await fsp.rm(path.join(inst.root, "system/defines.php"));
      let r = await checkModifiedCore(input(inst));
      assert.equal(r.status, "warn");
      assert.match(r.message, /^2 core files differ/);
      assert.match(r.message, /index\.php \(modified\)/);
      assert.match(r.message, /system\/defines\.php \(missing\)/);
      for (let i = 0; i < 6; i++) await fsp.writeFile(path.join(inst.root, `system/extra${i}.php`), "changed");
      r = await checkModifiedCore(input(inst));
      assert.match(r.message, /^8 core files differ/);
      assert.match(r.message, /and 3 more$/);
      assert.ok(r.fix);
    });

    it("ignores manifests of another version or not finalized", async () => {
      const inst = await site();
      await recordInstall(inst, "20251017T000000Z-1.7.40", "1.7.40", ["index.php"]);
      await fsp.appendFile(path.join(inst.root, "index.php"), "// changed\n");
      assert.match((await checkModifiedCore(input(inst))).message, /unmanaged/);
    });

    it("warns, without reading outside the root, when files.json names a path that escapes it", async () => {
      const inst = await site();
      await recordInstall(inst, "20251017T000000Z-1.7.48", "1.7.48", ["index.php"]);
      await fsp.writeFile(path.join(inst.paths.snapshots, "20251017T000000Z-1.7.48", "files.json"), JSON.stringify({ "../../etc/passwd": { sha256: "0", size: 1, mode: 420 } }));
      const r = await checkModifiedCore(input(inst));
      assert.equal(r.status, "warn");
      assert.match(r.message, /points outside/);
    });
  });

  describe("pending-transaction, recovery-mode, maintenance-flag", () => {
    it("pending-transaction fails while .gpm/journal.json exists", async () => {
      const inst = await site();
      assertPass(await checkPendingTransaction(input(inst)), "pending-transaction");
      await writeTree(inst.root, { ".gpm/journal.json": "{}" });
      const r = await checkPendingTransaction(input(inst));
      assertFail(r, "pending-transaction", ".gpm/journal.json");
      assert.equal(r.fix, "an interrupted run must be repaired first: run `gpm status`");
    });

    it("recovery-mode fails while the recovery flag exists, quoting its reason", async () => {
      const inst = await site();
      assertPass(await checkRecoveryMode(input(inst)), "recovery-mode");
      await writeTree(inst.root, { "system/recovery.flag": JSON.stringify({ reason: "smoke check failed and restore failed" }) });
      assertFail(await checkRecoveryMode(input(inst)), "recovery-mode", "system/recovery.flag", "smoke check failed and restore failed");
      await fsp.writeFile(inst.paths.recoveryFlag, "not json, written by the app");
      assertFail(await checkRecoveryMode(input(inst)), "recovery-mode", "recovery mode");
    });

    it("maintenance-flag fails when a previous run left .upgrading", async () => {
      const inst = await site();
      assertPass(await checkMaintenanceFlag(input(inst)), "maintenance-flag");
      await writeTree(inst.root, { ".upgrading": JSON.stringify({ startedAt: "2025-10-17T00:00:00Z", pid: 4242, from: "1.7.48", to: "1.8.0" }) });
      assertFail(await checkMaintenanceFlag(input(inst)), "maintenance-flag", "a previous run left .upgrading", "pid 4242", "1.7.48 -> 1.8.0");
    });
  });

  describe("smoke-command and post-upgrade-command", () => {
    it("passes when argv[0] is on PATH, fails with the fix when it is not", async () => {
      const inst = await site();
      inst.config.smokeCheck = { command: ["php", "bin/grav", "check"], phpServer: null, timeoutSec: 60 };
      const bin = await fakePhpBin();
      await withPath([bin], async () => {
        const r = await checkSmokeCommand(input(inst));
        assertPass(r, "smoke-command");
        assert.match(r.message, new RegExp(`${bin}/php`));
      });
      const empty = await tmpDir("gpm-nophp-");
      await withPath([empty], async () => {
        const r = await checkSmokeCommand(input(inst));
        assertFail(r, "smoke-command");
        assert.equal(`${r.message} — ${r.fix}`, "smoke check command `php` not found on PATH — install it or set smokeCheck in gpm.json (null disables it)");
      });
    });

    it("resolves a path relative to the root: executable passes, not executable fails, missing warns", async () => {
      const inst = await site();
      inst.config.smokeCheck = { command: ["bin/grav", "check"], phpServer: null, timeoutSec: 60 };
      assertPass(await checkSmokeCommand(input(inst)), "smoke-command");
      inst.config.smokeCheck = { command: ["./index.php"], phpServer: null, timeoutSec: 60 };
      assertFail(await checkSmokeCommand(input(inst)), "smoke-command", "not an executable file");
      inst.config.smokeCheck = { command: ["bin/not-yet"], phpServer: null, timeoutSec: 60 };
      assert.equal((await checkSmokeCommand(input(inst))).status, "warn");
    });

    it("passes when the smoke check or post-upgrade command is disabled; checks postUpgrade the same way", async () => {
      const inst = await site();
      inst.config.smokeCheck = null;
      assertPass(await checkSmokeCommand(input(inst)), "smoke-command");
      assertPass(await checkPostUpgradeCommand(input(inst)), "post-upgrade-command");
      inst.config.postUpgrade = ["definitely-not-a-command-gpm", "migrate"];
      assertFail(await checkPostUpgradeCommand(input(inst)), "post-upgrade-command", "post-upgrade command `definitely-not-a-command-gpm` not found");
    });
  });
});
