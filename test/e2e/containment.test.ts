import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { runGpm, treeHash, writeTree } from "../helpers/fixtures.js";
import { buildSites, cloneSite } from "../helpers/sites.js";

/**
 * Issue 9 item 7 (SPEC section 1, Containment; DESIGN invariant 7): every
 * path gpm takes from its own state files — the journal's moves, a
 * manifest's `core`, a snapshot's folders — is checked segment by segment
 * (no symbolic link on the way) and by place (never a preserved or state
 * entry) before anything moves. A refusal is exit 1, one line naming the
 * file; the tree, user/ and everything outside the root stay byte for byte.
 */

interface Case {
  root: string;
  outside: string;
  hashes: () => Promise<[string, string]>;
}

/** gpm's lock file, and a refused rollback's empty scratch folder in the snapshot: not the tree. */
const scratch = (r: string): boolean => r === ".gpm/lock" || /^snapshots\/[^/]+\/\.swap(\/|$)/.test(r);

/** A clone of `src` with a sibling folder `outside/` beside it; hashes of both (gpm's lock file aside). */
async function clone(src: string): Promise<Case> {
  const root = await cloneSite(src, "gpm-containment-");
  const outside = path.join(path.dirname(root), "outside");
  await writeTree(outside, { "data.txt": "outside the root\n", "nested/more.txt": "more\n" });
  const hashes = async (): Promise<[string, string]> => [await treeHash(root, { exclude: scratch }), await treeHash(outside)];
  return { root, outside, hashes };
}

async function onlySnapshot(root: string): Promise<string> {
  const ids = (await fsp.readdir(path.join(root, "snapshots"))).filter((n) => !n.startsWith("."));
  assert.equal(ids.length, 1, ids.join(","));
  return ids[0]!;
}

function assertOneLine(stderr: string, re: RegExp): void {
  const errs = stderr.split("\n").filter((l) => /^error:/.test(l));
  assert.equal(errs.length, 1, stderr);
  assert.match(errs[0]!, re);
  assert.doesNotMatch(stderr, /bug in gpm/);
}

describe("e2e: containment of paths from gpm's own state", function () {
  let fx: Awaited<ReturnType<typeof buildSites>>;
  before(async () => {
    fx = await buildSites({ prefix: "gpm-containment-", upgraded: true });
  });

  it("a hand-edited journal whose moves run through user/outlink -> ../outside is refused on `gpm status`", async () => {
    const c = await clone(fx.T1);
    await fsp.symlink("../../outside", path.join(c.root, "user", "outlink"));
    const notes = await fsp.lstat(path.join(c.root, "owner-notes.txt"));
    const data = await fsp.lstat(path.join(c.outside, "data.txt"));
    // Undone, these would move owner-notes.txt out of the root and outside/data.txt into it.
    const j = {
      version: 1, kind: "upgrade", manifestId: await onlySnapshot(c.root), pid: 999999, createdAt: new Date().toISOString(), phase: "applying",
      moves: [
        { from: "user/outlink/planted.txt", to: "owner-notes.txt", dev: notes.dev, ino: notes.ino },
        { from: "stolen.txt", to: "user/outlink/data.txt", dev: data.dev, ino: data.ino },
      ],
      copies: {}, undoCopies: {}, maintenanceFlag: null, postUpgradeStarted: false,
      meta: { from: "1.7.48", to: "1.8.0", maintenanceOnAt: null, startedAt: new Date().toISOString() },
    };
    await fsp.writeFile(path.join(c.root, ".gpm/journal.json"), JSON.stringify(j));
    const before = await c.hashes();
    const r = await runGpm(["status", "--root", c.root]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr, /\.gpm\/journal\.json: the move .* runs through the symbolic link user\/outlink; gpm will not act on it/);
    assert.deepEqual(await c.hashes(), before);
  });

  it("a journal that moves a preserved or state entry is refused, naming the journal", async () => {
    const c = await clone(fx.T1);
    const id = await onlySnapshot(c.root);
    for (const entry of ["images", "gpm.json", ".gpm", "user"]) {
      await fsp.mkdir(path.join(c.root, "images"), { recursive: true });
      const st = await fsp.lstat(path.join(c.root, entry));
      const j = {
        version: 1, kind: "upgrade", manifestId: id, pid: 999999, createdAt: "", phase: "applying",
        moves: [{ from: `snapshots/${id}/previous/${entry}`, to: entry, dev: st.dev, ino: st.ino }],
        copies: {}, undoCopies: {}, maintenanceFlag: null, postUpgradeStarted: false, meta: { from: null, to: null, maintenanceOnAt: null, startedAt: "" },
      };
      await fsp.writeFile(path.join(c.root, ".gpm/journal.json"), JSON.stringify(j));
      const before = await c.hashes();
      const r = await runGpm(["status", "--root", c.root]);
      assert.equal(r.code, 1, `${entry}: ${r.stderr}`);
      assertOneLine(r.stderr, new RegExp(`\\.gpm/journal\\.json: the move .* is refused: "${entry.replace(".", "\\.")}" is (preserved|gpm's own state)`));
      assert.deepEqual(await c.hashes(), before, entry);
    }
  });

  it("snapshots/<id>/previous replaced by a link to outside: `gpm rollback` refuses, the live core stays", async () => {
    const c = await clone(fx.T1);
    const id = await onlySnapshot(c.root);
    const prev = path.join(c.root, "snapshots", id, "previous");
    await fsp.rename(prev, path.join(c.outside, "prev"));
    await fsp.symlink(path.join(c.outside, "prev"), prev);
    const before = await c.hashes();
    const r = await runGpm(["rollback", "--root", c.root]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr, new RegExp(`snapshots/${id}/manifest\\.json: the move .* runs through the symbolic link snapshots/${id}/previous`));
    assert.deepEqual(await c.hashes(), before);
    const st = await runGpm(["status", "--root", c.root, "--json"]);
    assert.equal(JSON.parse(st.stdout).installed, "1.8.0");
  });

  for (const entry of ["images", "gpm.json", ".gpm"]) {
    it(`a manifest whose core lists ${entry}: \`gpm rollback\` refuses, naming the manifest`, async () => {
      const c = await clone(fx.T1);
      await writeTree(c.root, { "images/logo.png": "png\n" });
      const id = await onlySnapshot(c.root);
      const mf = path.join(c.root, "snapshots", id, "manifest.json");
      const m = JSON.parse(await fsp.readFile(mf, "utf8")) as { core: string[] };
      m.core.push(entry);
      await fsp.writeFile(mf, JSON.stringify(m, null, 2));
      const before = await c.hashes();
      const r = await runGpm(["rollback", id, "--root", c.root]);
      assert.equal(r.code, 1, r.stderr);
      assertOneLine(r.stderr, new RegExp(`snapshots/${id}/manifest\\.json: the move ${entry.replace(".", "\\.")} → .* is refused`));
      assert.deepEqual(await c.hashes(), before);
      assert.ok(await fsp.lstat(path.join(c.root, entry)), `${entry} stays live`);
      const st = await runGpm(["status", "--root", c.root, "--json"]);
      assert.equal(JSON.parse(st.stdout).installed, "1.8.0");
    });
  }
});
