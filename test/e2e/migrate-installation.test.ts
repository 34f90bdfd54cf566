import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, runGpm, treeHash, writeTree } from "../helpers/fixtures.js";
import { jsonDoc } from "../helpers/json.js";

const OLD = "20250901T080000Z-1.7.47";

/** A site gpm managed at structure 1, with a pre-`swaps` manifest and a legacy .gpm/history record. */
async function v1Site(): Promise<string> {
  const root = await tmpDir();
  await makeSite(root, "1.7.48");
  const manifest = { id: OLD, kind: "upgrade", from: "1.7.46", to: "1.7.47", createdAt: "2025-09-01T08:00:00.000Z", status: "finalized" };
  await writeTree(root, {
    ".gpm/metadata.json": JSON.stringify({ structure_version: 1, installation_version: "1.7.48", created_by: "0.0.9", last_upgraded: null }),
    [`snapshots/${OLD}/manifest.json`]: JSON.stringify(manifest),
    [`.gpm/history/${OLD}.json`]: JSON.stringify(manifest),
  });
  return root;
}

const structure = async (root: string): Promise<number> => JSON.parse(await fsp.readFile(path.join(root, ".gpm/metadata.json"), "utf8")).structure_version;
const gpm = (root: string, ...args: string[]) => runGpm(["--root", root, ...args]);

describe("e2e: gpm migrate-installation", () => {
  it("--dry-run shows the plan and changes nothing", async () => {
    const root = await v1Site();
    const before = await treeHash(root);
    const res = await gpm(root, "migrate-installation", "--dry-run", "--json");
    assert.equal(res.code, 0, res.stderr);
    const doc = jsonDoc(res.stdout);
    assert.deepEqual(
      doc.plan.map((s: { from: number; to: number; risk: string }) => `${s.from}→${s.to} ${s.risk}`),
      ["1→2 auto", "2→3 prompt"],
    );
    assert.deepEqual([doc.from, doc.to, doc.applied], [1, 3, []]);
    assert.equal(await treeHash(root), before);
    const human = await gpm(root, "migrate-installation", "--dry-run");
    assert.match(human.stdout, /structure 1 → 3:\n {2}1→2 \[auto\] .*\n {2}2→3 \[prompt\] .*\ndry run: nothing changed/);
  });

  it("without a TTY and without --yes it is an error (exit 1) and nothing at all is applied, not even the auto step", async () => {
    const root = await v1Site();
    const before = await treeHash(root);
    const res = await gpm(root, "migrate-installation");
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /needs confirmation: pass --yes/);
    assert.equal(await treeHash(root), before);
  });

  it("any command applies the auto step and warns about the prompt one", async () => {
    const root = await v1Site();
    const res = await gpm(root, "recovery", "enable", "--reason", "test");
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await structure(root), 2);
    assert.match(res.stderr, /structure migration 2→3 needs `gpm migrate-installation`/);
    const m = JSON.parse(await fsp.readFile(path.join(root, "snapshots", OLD, "manifest.json"), "utf8"));
    assert.deepEqual([m.swaps, m.downtimeMs], [[], null]);
  });

  it("--yes runs every step; a second run says the structure is current", async () => {
    const root = await v1Site();
    const res = await gpm(root, "migrate-installation", "--yes", "--json");
    assert.equal(res.code, 0, res.stderr);
    const doc = jsonDoc(res.stdout);
    assert.deepEqual(doc.applied.map((s: { to: number }) => s.to), [2, 3]);
    assert.equal(doc.structure, 3);
    assert.equal(await structure(root), 3);
    await assert.rejects(fsp.access(path.join(root, ".gpm/history")));
    const record = JSON.parse(await fsp.readFile(path.join(root, "user/data/upgrades", `${OLD}.json`), "utf8"));
    assert.equal(record.id, OLD);
    const again = await gpm(root, "migrate-installation", "--yes");
    assert.equal(again.code, 0);
    assert.match(again.stdout, /structure is current \(3\)/);
  });

  it("--yes adopts an unmanaged root (writes .gpm/metadata.json, nothing else)", async () => {
    const root = await tmpDir();
    await makeSite(root, "1.7.48");
    const before = await treeHash(root);
    const res = await gpm(root, "migrate-installation", "--yes");
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /applied 0→1: adopt the unmanaged installation/);
    assert.equal(await structure(root), 3);
    assert.equal(await treeHash(root, { exclude: (r) => r === ".gpm" || r.startsWith(".gpm/") }), before);
  });
});
