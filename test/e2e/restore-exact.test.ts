import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { makeFeed, releaseTree, runGpm, treeHash, writeTree, type TreeSpec } from "../helpers/fixtures.js";
import { buildSites, cloneSite } from "../helpers/sites.js";
import { liveState, userState, stateDiff } from "./crash-fixtures.js";

/**
 * Issue 9 item 4 and issue 10 item 7: a failed upgrade is restored byte for
 * byte, also when a script of the release left a new top-level entry in the
 * live tree (a `vendor/` Composer wrote): it goes into the snapshot
 * (`snapshots/<id>/appeared/`), by the failing run and by repair after a
 * crash alike. A restored attempt records `downtimeMs` and `swapMs`.
 */

/** A script that leaves new top-level entries behind, as a Composer run would, then exits `code`. */
const litter = (code: number): string => `#!/usr/bin/env node
import fs from "node:fs";
fs.mkdirSync("composer-vendor/psr", { recursive: true });
fs.writeFileSync("composer-vendor/autoload.php", "<?php // left by a script\\n");
fs.writeFileSync(".composer-lock-left", "x\\n");
process.exit(${code});
`;

interface M {
  status: string;
  downtimeMs: number | null;
  swapMs?: number | null;
  timings: Record<string, number>;
}

describe("e2e: a failed upgrade is restored byte for byte", function () {
  let fx: Awaited<ReturnType<typeof buildSites>>;
  let feed: string;

  before(async () => {
    fx = await buildSites({ prefix: "gpm-restore-exact-" });
    const smokeLitters: TreeSpec = releaseTree("1.8.1", { extra: { "bin/check.mjs": { content: litter(3), mode: 0o755 } } });
    const postLitters: TreeSpec = releaseTree("1.8.2", { extra: { "bin/migrate.mjs": { content: litter(0), mode: 0o755 } } });
    feed = await makeFeed(path.join(fx.base, "feed2"), [{ version: "1.8.1", tree: smokeLitters }, { version: "1.8.2", tree: postLitters }]);
  });

  /** A clone of T0 beside a sibling folder outside the root; returns both and their hashes. */
  async function site(config?: Record<string, unknown>): Promise<{ root: string; outside: string; before: Awaited<ReturnType<typeof liveState>>; user: Awaited<ReturnType<typeof userState>>; outsideHash: string }> {
    const root = await cloneSite(fx.T0, "gpm-restore-exact-");
    if (config) await fsp.writeFile(path.join(root, "gpm.json"), JSON.stringify(config));
    const outside = path.join(path.dirname(root), "outside");
    await writeTree(outside, { "keep.txt": "outside the root\n" });
    return { root, outside, before: await liveState(root), user: await userState(root), outsideHash: await treeHash(outside) };
  }

  async function onlyManifest(root: string): Promise<{ id: string; m: M }> {
    const ids = (await fsp.readdir(path.join(root, "snapshots"))).filter((n) => !n.startsWith("."));
    assert.equal(ids.length, 1, ids.join(","));
    return { id: ids[0]!, m: JSON.parse(await fsp.readFile(path.join(root, "snapshots", ids[0]!, "manifest.json"), "utf8")) as M };
  }

  it("entries a smoke check wrote at the top level go into the snapshot; downtimeMs and swapMs are recorded (exit 4)", async () => {
    const s = await site();
    const r = await runGpm(["self-upgrade", "--version", "1.8.1", "--root", s.root, "--feed", feed]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(stateDiff(await liveState(s.root), s.before), "");
    assert.deepEqual(await userState(s.root), s.user);
    assert.equal(await treeHash(s.outside), s.outsideHash);
    const { id, m } = await onlyManifest(s.root);
    assert.equal(m.status, "restored");
    const kept = path.join(s.root, "snapshots", id, "appeared");
    assert.deepEqual((await fsp.readdir(kept)).sort(), [".composer-lock-left", "composer-vendor"]);
    assert.equal(await fsp.readFile(path.join(kept, "composer-vendor/autoload.php"), "utf8"), "<?php // left by a script\n");
    assert.equal(typeof m.downtimeMs, "number", "a restored attempt records its downtime");
    assert.equal(typeof m.swapMs, "number", "swapMs: the renames alone");
    assert.ok(m.downtimeMs! >= m.swapMs!, "downtime holds the swap");
    assert.equal(m.swapMs, m.timings.swap);
  });

  it("repair after a kill (postUpgrade had left entries) does the same, from the journal alone", async () => {
    const s = await site({ smokeCheck: { command: ["node", "bin/check.mjs"] }, postUpgrade: ["node", "bin/migrate.mjs"] });
    const killed = await runGpm(["self-upgrade", "--version", "1.8.2", "--root", s.root, "--feed", feed], { env: { GPM_TEST_KILL_AT: "promote:post-upgrade-done" } });
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    assert.ok(await fsp.lstat(path.join(s.root, "composer-vendor")), "the script ran");
    const st = await runGpm(["status", "--root", s.root, "--json"]);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(stateDiff(await liveState(s.root), s.before), "");
    assert.deepEqual(await userState(s.root), s.user);
    assert.equal(await treeHash(s.outside), s.outsideHash);
    const { id, m } = await onlyManifest(s.root);
    assert.equal(m.status, "failed");
    assert.equal(typeof m.downtimeMs, "number", "repair records the downtime of the attempt it undid");
    assert.deepEqual((await fsp.readdir(path.join(s.root, "snapshots", id, "appeared"))).sort(), [".composer-lock-left", "composer-vendor"]);
  });

  it("a kill right after the appeared entries moved, then repair: the tree before, nothing lost", async () => {
    const s = await site();
    const killed = await runGpm(["self-upgrade", "--version", "1.8.1", "--root", s.root, "--feed", feed], { env: { GPM_TEST_KILL_AT: "restore:appeared-moved" } });
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    const st = await runGpm(["status", "--root", s.root, "--json"]);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(stateDiff(await liveState(s.root), s.before), "");
    const { id } = await onlyManifest(s.root);
    assert.ok(await fsp.lstat(path.join(s.root, "snapshots", id, "appeared", "composer-vendor")));
  });
});
