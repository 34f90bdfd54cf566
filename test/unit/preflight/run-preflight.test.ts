import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { runPreflight, blockingFailures, CHECK_IDS } from "../../../lib/preflight/index.js";
import type { CheckResult } from "../../../lib/preflight/types.js";
import { GpmError, Exit } from "../../../lib/util/errors.js";
import { treeHash, writeTree } from "../../helpers/fixtures.js";
import { site, input, release, recordInstall, fakePhpBin, withPath } from "./preflight-fixtures.js";

const byId = (results: CheckResult[], id: string): CheckResult => {
  const r = results.find((x) => x.id === id);
  assert.ok(r, `no result for ${id}`);
  return r;
};

const psrLog3 = release({
  requires: { php: ">=8.1", node: ">=18", extensions: ["zip", "curl"] },
  conflicts: [{ package: "psr/log", versions: "<3", message: "Grav 1.8 ships psr/log 3" }],
});

describe("preflight/runPreflight", () => {
  it("reports every check once, in CHECK_IDS order, with the documented ids", async () => {
    const inst = await site();
    const bin = await fakePhpBin();
    const results = await withPath([bin, path.dirname(process.execPath)], () => runPreflight(input(inst, { release: psrLog3 })));
    assert.deepEqual(results.map((r) => r.id), [...CHECK_IDS]);
    assert.deepEqual([...CHECK_IDS], [
      "pending-transaction", "recovery-mode", "maintenance-flag", "runtime-node", "runtime-php", "php-extensions", "disk-space",
      "root-writable", "same-filesystem", "plugin-conflicts", "plugin-dependencies", "plugin-updates", "modified-core", "smoke-command", "post-upgrade-command",
      "state-not-served",
    ]);
    for (const r of results) assert.equal(r.status, "pass", `${r.id}: ${r.message}`);
    assert.deepEqual(blockingFailures(results, { ignore: [], force: false }), []);
  });

  it("the brief's example: a plugin on psr/log ^1.0 blocks a psr/log 3 release; ^1.0 || ^3.0 does not", async () => {
    const inst = await site({ extra: { "user/plugins/legacy/composer.json": JSON.stringify({ name: "acme/legacy", require: { "psr/log": "^1.0" } }) } });
    const bin = await fakePhpBin();
    const results = await withPath([bin, path.dirname(process.execPath)], () => runPreflight(input(inst, { release: psrLog3 })));
    const conflict = byId(results, "plugin-conflicts");
    assert.equal(conflict.status, "fail");
    assert.match(conflict.message, /user\/plugins\/legacy requires psr\/log "\^1\.0", but 1\.8\.0 conflicts with psr\/log <3 \(Grav 1\.8 ships psr\/log 3\)/);
    assert.doesNotMatch(conflict.message, /myplugin/, "myplugin's ^1.0 || ^3.0 is fine");
    assert.deepEqual(blockingFailures(results, { ignore: [], force: false }).map((r) => r.id), ["plugin-conflicts"]);
  });

  it("never writes anything: the whole tree, .gpm/ and snapshots/ included, is byte for byte the same", async () => {
    const inst = await site({ extra: { "user/plugins/legacy/composer.json": JSON.stringify({ require: { "psr/log": "^1.0" } }) } });
    await writeTree(inst.root, {
      ".gpm/metadata.json": JSON.stringify({ structure_version: 1, installation_version: "1.7.48", created_by: "0.1.0", last_upgraded: null }),
      ".gpm/journal.json": "{}",
      ".upgrading": "{}",
      "system/recovery.flag": "{}",
    });
    await recordInstall(inst, "20251017T000000Z-1.7.48", "1.7.48", ["index.php", "system/defines.php"]);
    await fsp.appendFile(path.join(inst.root, "index.php"), "// local edit\n");
    const before = await treeHash(inst.root);
    const bin = await fakePhpBin();
    const results = await withPath([bin], () => runPreflight(input(inst, { release: psrLog3 })));
    assert.equal(await treeHash(inst.root), before);
    // The run did look at everything it was given (so "nothing written" is not "nothing done").
    assert.deepEqual(
      results.filter((r) => r.status !== "pass").map((r) => `${r.id}:${r.status}`),
      ["pending-transaction:fail", "recovery-mode:fail", "maintenance-flag:fail", "plugin-conflicts:fail", "modified-core:warn", "smoke-command:fail"],
    );
    // A snapshot store that does not exist yet is probed through its nearest ancestor, not created.
    inst.config.snapshotDir = "store/not/yet/created";
    inst.paths.snapshots = path.join(inst.root, "store/not/yet/created");
    await withPath([bin], () => runPreflight(input(inst, { release: psrLog3 })));
    assert.equal(await treeHash(inst.root), before);
  });

  it("a check that cannot run becomes a failure naming why; the others still run", async () => {
    const inst = await site();
    await fsp.writeFile(path.join(inst.root, "snapshots"), "a file where the snapshot store should be");
    const bin = await fakePhpBin();
    const results = await withPath([bin, path.dirname(process.execPath)], () => runPreflight(input(inst)));
    const r = byId(results, "modified-core");
    assert.equal(r.status, "fail");
    assert.match(r.message, /^the check could not run: .*ENOTDIR/);
    assert.ok(r.fix);
    assert.equal(byId(results, "runtime-node").status, "pass");
  });
});

describe("preflight/blockingFailures", () => {
  const results: CheckResult[] = [
    { id: "runtime-php", status: "fail", message: "php too old", fix: "install php" },
    { id: "plugin-conflicts", status: "fail", message: "conflict", fix: "update the plugin" },
    { id: "modified-core", status: "warn", message: "edited", fix: "re-apply" },
    { id: "disk-space", status: "pass", message: "ok", fix: null },
  ];

  it("returns the failures that are not ignored; warnings never block", () => {
    assert.deepEqual(blockingFailures(results, { ignore: [], force: false }).map((r) => r.id), ["runtime-php", "plugin-conflicts"]);
    assert.deepEqual(blockingFailures(results, { ignore: ["plugin-conflicts"], force: false }).map((r) => r.id), ["runtime-php"]);
    assert.deepEqual(blockingFailures(results, { ignore: ["plugin-conflicts", "runtime-php"], force: false }), []);
  });

  it("--force ignores every failure", () => {
    assert.deepEqual(blockingFailures(results, { ignore: [], force: true }), []);
  });

  it("an unknown id is refused with exit 1 listing the known ids, even with --force", () => {
    for (const force of [false, true]) {
      assert.throws(
        () => blockingFailures(results, { ignore: ["plugin-conflict"], force }),
        (err: unknown) => err instanceof GpmError && err.code === Exit.ERROR && /unknown check id "plugin-conflict"; known: .*plugin-conflicts/.test(err.message),
      );
    }
  });
});
