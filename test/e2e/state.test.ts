import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { tmpDir, makeSite, makeFeed, runGpm, treeHash, writeTree, type RunResult } from "../helpers/fixtures.js";

/**
 * Issue 9 items 5, 8, 9, 10, 12: gpm's own state and the places it writes —
 * ownership, symlinked state folders, config placement errors, folders that
 * are not installations, damaged or odd state files, adoption. Every case
 * runs the real CLI; where nothing may change, the whole root (and a folder
 * beside it) is compared byte for byte.
 */

const sh = promisify(execFile);
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** A site (1.7.48, unmanaged) in `<base>/site`, a feed with 1.8.0 in `<base>/feed`, and an `<base>/outside` folder with one file. */
async function setup(opts: { config?: Record<string, unknown> } = {}): Promise<{ base: string; root: string; feed: string; outside: string }> {
  const base = await tmpDir();
  const root = path.join(base, "site");
  await makeSite(root, "1.7.48", opts.config ? { config: opts.config } : {});
  const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0" }]);
  const outside = path.join(base, "outside");
  await writeTree(outside, { "keep.txt": "outside the root\n" });
  return { base, root, feed, outside };
}

/** One `error:` line, naming `what`, never calling it a bug. */
function refused(r: RunResult, code: number, what: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, what);
  assert.doesNotMatch(r.stderr, /bug in gpm/);
}

/** Every entry below `dir` (links not followed) whose owner is not uid:gid. */
async function notOwnedBy(dir: string, uid: number, gid: number): Promise<string[]> {
  const bad: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const st = await fsp.lstat(path.join(dir, rel));
    if (st.uid !== uid || st.gid !== gid) bad.push(`${rel || "."} ${st.uid}:${st.gid}`);
    if (st.isDirectory()) for (const n of await fsp.readdir(path.join(dir, rel))) await walk(rel ? `${rel}/${n}` : n);
  };
  await walk("");
  return bad;
}

describe("e2e: gpm's own state (issue 9)", function () {
  this.timeout(120_000);

  describe("ownership (item 5)", () => {
    before(function () {
      if (!isRoot) {
        console.log("      skipped: needs root (chown of the site to another user)");
        this.skip();
      }
    });

    it("as root on a www-data site, everything gpm creates or replaces is www-data's (upgrade, records, .gpm/, snapshots/, rollback, recovery)", async () => {
      const { root, feed } = await setup();
      await sh("chown", ["-hR", "33:33", root]);
      const gpm = (...args: string[]) => runGpm(["--root", root, "--feed", feed, ...args]);
      let r = await gpm("self-upgrade", "--yes");
      assert.equal(r.code, 0, r.stderr);
      r = await gpm("recovery", "token");
      assert.equal(r.code, 0, r.stderr);
      r = await gpm("recovery", "enable", "--reason", "test");
      assert.equal(r.code, 0, r.stderr);
      r = await gpm("recovery", "clear", "--force");
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await notOwnedBy(root, 33, 33), [], "after the upgrade");
      await fsp.access(path.join(root, "user/data/upgrades"));
      r = await gpm("rollback");
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await notOwnedBy(root, 33, 33), [], "after the rollback");
    });

    it("adoption and structure migration write www-data's files", async () => {
      const { root } = await setup();
      const OLD = "20250901T080000Z-1.7.47";
      const manifest = JSON.stringify({ id: OLD, kind: "upgrade", from: "1.7.46", to: "1.7.47", createdAt: "2025-09-01T08:00:00.000Z", status: "finalized" });
      // structure 1 with a legacy record: 2→3 creates user/data/upgrades/
      await writeTree(root, {
        ".gpm/metadata.json": JSON.stringify({ structure_version: 1, installation_version: "1.7.48", created_by: "0.0.9", last_upgraded: null }),
        [`snapshots/${OLD}/manifest.json`]: manifest,
        [`.gpm/history/${OLD}.json`]: manifest,
      });
      await sh("chown", ["-hR", "33:33", root]);
      const r = await runGpm(["--root", root, "migrate-installation", "--yes"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await notOwnedBy(root, 33, 33), []);
    });
  });

  describe("symlinked state folders and config placement (item 8)", () => {
    for (const name of [".gpm", "snapshots"]) {
      it(`${name}/ as a link to outside the root is refused (exit 1, naming it), nothing written through it`, async () => {
        const { root, feed, outside } = await setup();
        await fsp.symlink(outside, path.join(root, name));
        const before = await treeHash(root);
        const outsideBefore = await treeHash(outside);
        for (const args of [["self-upgrade", "--yes"], ["recovery", "token"], ["recovery", "enable", "--reason", "x"], ["status"]]) {
          const r = await runGpm(["--root", root, "--feed", feed, ...args]);
          refused(r, 1, new RegExp(`${name.replace(".", "\\.")} .*symbolic link`));
          assert.equal(await treeHash(outside), outsideBefore, `${args.join(" ")}: nothing written outside`);
          assert.equal(await treeHash(root), before, `${args.join(" ")}: root unchanged`);
        }
      });
    }

    it("a link to a folder inside the root is refused too", async () => {
      const { root, feed } = await setup();
      await fsp.mkdir(path.join(root, "logs/snaps"));
      await fsp.symlink("logs/snaps", path.join(root, "snapshots"));
      const before = await treeHash(root);
      refused(await runGpm(["--root", root, "--feed", feed, "self-upgrade", "--yes"]), 1, /snapshots \(snapshotDir\) is a symbolic link/);
      assert.equal(await treeHash(root), before);
    });

    const bad: [string, Record<string, unknown>, RegExp][] = [
      ["snapshotDir inside user/", { snapshotDir: "user/snaps" }, /gpm\.json: snapshotDir: "user\/snaps" lies inside user\//],
      ["snapshotDir inside a preserved entry", { snapshotDir: "backup/gpm" }, /gpm\.json: snapshotDir: "backup\/gpm" lies inside backup\//],
      ["a preserve entry that is not a top-level name", { preserve: ["user", "system/config"] }, /gpm\.json: preserve\[1\]: "system\/config" is not a top-level name/],
    ];
    for (const [what, config, message] of bad) {
      it(`${what} is a config error naming the key (exit 1, nothing changed)`, async () => {
        const { root, feed } = await setup({ config: { smokeCheck: { command: ["node", "bin/check.mjs"], timeoutSec: 30 }, ...config } });
        const before = await treeHash(root);
        refused(await runGpm(["--root", root, "--feed", feed, "self-upgrade", "--yes"]), 1, message);
        assert.equal(await treeHash(root), before);
      });
    }
  });

  describe("a folder that is not an installation is never written (item 9)", () => {
    const writing = [["recovery", "enable", "--reason", "x"], ["recovery", "token"], ["recovery", "clear", "--force"], ["self-upgrade", "--yes"], ["rollback"], ["migrate-installation", "--yes"]];

    it("an empty folder: every writing command exits 1 and writes nothing", async () => {
      const { feed } = await setup();
      const empty = await tmpDir();
      for (const args of writing) {
        const r = await runGpm(["--root", empty, "--feed", feed, ...args]);
        refused(r, 1, /is not an installation/);
        assert.deepEqual(await fsp.readdir(empty), [], `${args.join(" ")} wrote nothing`);
      }
    });

    it("user/pages of a site: every writing command exits 1, the site unchanged byte for byte", async () => {
      const { root, feed } = await setup();
      const before = await treeHash(root);
      for (const args of writing) {
        refused(await runGpm(["--root", path.join(root, "user/pages"), "--feed", feed, ...args]), 1, /user\/pages is not an installation/);
        assert.equal(await treeHash(root), before, args.join(" "));
      }
    });

    it("--root '' and GPM_ROOT='' are usage errors (exit 2), nothing written in the current folder", async () => {
      const { root } = await setup();
      const before = await treeHash(root);
      refused(await runGpm(["--root", "", "recovery", "enable", "--reason", "x"], { cwd: root }), 2, /the root is empty/);
      refused(await runGpm(["recovery", "enable", "--reason", "x"], { cwd: root, env: { GPM_ROOT: "" } }), 2, /the root is empty/);
      const json = await runGpm(["--root", "", "status", "--json"], { cwd: root });
      assert.equal(json.code, 2);
      assert.equal(JSON.parse(json.stdout).exitCode, 2);
      assert.equal(await treeHash(root), before);
    });
  });

  describe("damaged or odd state (item 10)", () => {
    it("metadata with installation_version of the wrong type: one line naming the file and the key", async () => {
      const { root } = await setup();
      await writeTree(root, { ".gpm/metadata.json": JSON.stringify({ structure_version: 3, installation_version: 42, created_by: "0.1.0", last_upgraded: null }) });
      const before = await treeHash(root);
      for (const args of [["status"], ["recovery", "enable", "--reason", "x"]]) {
        refused(await runGpm(["--root", root, ...args]), 1, /\.gpm\/metadata\.json is damaged: installation_version: .*— set "installation_version"/);
        assert.equal(await treeHash(root), before);
      }
    });

    it("a journal with non-string paths: one line naming it, nothing moved", async () => {
      const { root } = await setup();
      const journal = { version: 1, kind: "upgrade", manifestId: "20250101T000000Z-1.8.0", pid: 1, createdAt: "2025-01-01T00:00:00Z", phase: "applying", moves: [{ from: 5, to: { x: 1 }, dev: 1, ino: 2 }], copies: {}, undoCopies: {}, maintenanceFlag: null, postUpgradeStarted: false, meta: {} };
      await writeTree(root, { ".gpm/journal.json": JSON.stringify(journal) });
      const before = await treeHash(root);
      refused(await runGpm(["--root", root, "status"]), 1, /\.gpm\/journal\.json is damaged: moves\.0\.from: .*docs\/RECOVERY\.md/);
      assert.equal(await treeHash(root), before);
    });

    it("a .upgrading that is a folder: one line naming it; it is neither read nor removed", async () => {
      const { root, feed } = await setup();
      await writeTree(root, { ".upgrading/notes.txt": "someone's folder\n" });
      const before = await treeHash(root);
      for (const args of [["status"], ["self-upgrade", "--yes"]]) {
        refused(await runGpm(["--root", root, "--feed", feed, ...args]), 1, /\.upgrading \(maintenanceFlag\) is a folder, not gpm's flag file/);
        assert.equal(await treeHash(root), before);
      }
    });

    it("a lock file holding `null` is taken over with a warning", async () => {
      const { root } = await setup();
      await writeTree(root, { ".gpm/lock": "null\n" });
      const r = await runGpm(["--root", root, "recovery", "enable", "--reason", "x"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /taking over .*\.gpm\/lock: it names no process/);
      await assert.rejects(fsp.access(path.join(root, ".gpm/lock")), "released");
      await fsp.access(path.join(root, "system/recovery.flag"));
    });

    it("a versionFile that is a FIFO: `gpm status` returns at once, naming it", async () => {
      const { root } = await setup();
      await fsp.rm(path.join(root, "system/defines.php"));
      await sh("mkfifo", [path.join(root, "system/defines.php")]);
      // (the comparison itself must not open the FIFO: it would block this test)
      const notFifo = { exclude: (r: string) => r === "system/defines.php" };
      const before = await treeHash(root, notFifo);
      const r = await runGpm(["--root", root, "status"], { timeoutMs: 30_000 });
      assert.equal(r.signal, null, "it did not block");
      refused(r, 1, /system\/defines\.php is a FIFO \(named pipe\), not a regular file/);
      const recov = await runGpm(["--root", root, "recovery", "enable", "--reason", "x"], { timeoutMs: 30_000 });
      refused(recov, 1, /system\/defines\.php is a FIFO/);
      assert.equal(await treeHash(root, notFifo), before);
      assert.ok((await fsp.lstat(path.join(root, "system/defines.php"))).isFIFO());
    });

    describe("read-only .gpm/ and snapshots/ (EROFS)", () => {
      const mounts: string[] = [];
      let canMount = isRoot;
      before(async function () {
        if (canMount) {
          const probe = await tmpDir();
          try {
            await sh("mount", ["--bind", probe, probe]);
            await sh("umount", [probe]);
          } catch (err) {
            canMount = false;
            console.log(`      skipped: cannot bind-mount here: ${(err as Error).message.split("\n")[0]}`);
          }
        }
        if (!canMount) this.skip();
      });
      afterEach(async () => {
        while (mounts.length) await sh("umount", [mounts.pop()!]).catch(() => undefined);
      });
      const readOnly = async (dir: string): Promise<void> => {
        await sh("mount", ["--bind", dir, dir]);
        mounts.push(dir);
        await sh("mount", ["-o", "remount,bind,ro", dir]);
      };

      it(".gpm/ read-only: a writing command says so in one line, nothing changed", async () => {
        const { root } = await setup();
        await writeTree(root, { ".gpm/metadata.json": JSON.stringify({ structure_version: 3, installation_version: "1.7.48", created_by: "0.1.0", last_upgraded: null }) });
        await readOnly(path.join(root, ".gpm"));
        const before = await treeHash(root);
        refused(await runGpm(["--root", root, "recovery", "enable", "--reason", "x"]), 1, /\.gpm\/lock.*read-only \(EROFS\) — remount it read-write/);
        refused(await runGpm(["--root", root, "recovery", "token"]), 1, /\.gpm.*read-only \(EROFS\)/);
        assert.equal(await treeHash(root), before);
      });

      it("snapshots/ read-only: self-upgrade and rollback stop with one line naming it, nothing changed", async () => {
        const { root, feed } = await setup();
        const upgraded = await tmpDir();
        await fsp.cp(root, upgraded, { recursive: true, verbatimSymlinks: true });
        // self-upgrade on a read-only store: refused before anything is staged
        await fsp.mkdir(path.join(root, "snapshots"));
        await readOnly(path.join(root, "snapshots"));
        let before = await treeHash(root);
        let r = await runGpm(["--root", root, "--feed", feed, "self-upgrade", "--yes"]);
        assert.ok(r.code === 1 || r.code === 3, `exit ${r.code}: ${r.stderr}`);
        assert.match(r.stderr, /snapshots/);
        assert.doesNotMatch(r.stderr, /bug in gpm/);
        assert.equal(await treeHash(root), before);
        // rollback with the store read-only after an upgrade
        r = await runGpm(["--root", upgraded, "--feed", feed, "self-upgrade", "--yes"]);
        assert.equal(r.code, 0, r.stderr);
        await readOnly(path.join(upgraded, "snapshots"));
        before = await treeHash(upgraded);
        r = await runGpm(["--root", upgraded, "rollback"]);
        refused(r, 1, /snapshots\/.*read-only \(EROFS\) — remount it read-write/);
        assert.equal(await treeHash(upgraded), before);
      });
    });
  });

  describe("migrate-installation adopts an unmanaged installation (item 12)", () => {
    it("--yes writes .gpm/metadata.json (0 → 1 → current); a second run changes nothing", async () => {
      const { root } = await setup();
      const notGpm = (r: string): boolean => r === ".gpm" || r.startsWith(".gpm/");
      const before = await treeHash(root);
      const r = await runGpm(["--root", root, "migrate-installation", "--yes", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual([doc.managed, doc.from, doc.applied[0]], [false, 0, { from: 0, to: 1, risk: "prompt", description: "adopt the unmanaged installation: write .gpm/metadata.json" }]);
      const meta = JSON.parse(await fsp.readFile(path.join(root, ".gpm/metadata.json"), "utf8"));
      assert.deepEqual([meta.structure_version, meta.installation_version], [doc.structure, "1.7.48"]);
      assert.deepEqual((await fsp.readdir(path.join(root, ".gpm"))).filter((n) => n !== ".htaccess"), ["metadata.json"], "no lock, no backup left");
      assert.equal(await treeHash(root, { exclude: notGpm }), before, "nothing else written");
      const after = await treeHash(root);
      const again = await runGpm(["--root", root, "migrate-installation", "--yes"]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /structure is current/);
      assert.equal(await treeHash(root), after);
    });

    it("without a yes nothing at all is applied (not even an auto step, not a lock file)", async () => {
      const { root } = await setup();
      const base = await treeHash(root);
      refused(await runGpm(["--root", root, "migrate-installation"]), 1, /needs confirmation: pass --yes/);
      assert.equal(await treeHash(root), base, "unmanaged root untouched");
      const OLD = "20250901T080000Z-1.7.47";
      await writeTree(root, {
        ".gpm/metadata.json": JSON.stringify({ structure_version: 1, installation_version: "1.7.48", created_by: "0.0.9", last_upgraded: null }),
        [`snapshots/${OLD}/manifest.json`]: JSON.stringify({ id: OLD, kind: "upgrade", from: "1.7.46", to: "1.7.47", createdAt: "2025-09-01T08:00:00.000Z", status: "finalized" }),
      });
      const before = await treeHash(root);
      refused(await runGpm(["--root", root, "migrate-installation"]), 1, /needs confirmation: pass --yes/);
      assert.equal(await treeHash(root), before, "structure 1 root untouched: the auto step 1→2 did not run");
    });
  });
});
