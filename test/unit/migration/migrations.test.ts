import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, treeHash, writeTree } from "../../helpers/fixtures.js";
import { openInstallation, writeMetadata, type Installation } from "../../../lib/install/installation.js";
import { silentLogger } from "../../../lib/util/log.js";
import { manifestFields } from "../../../lib/migration/migrations/manifest-fields.js";
import { upgradeRecords } from "../../../lib/migration/migrations/upgrade-records.js";
import { takeBackup } from "../../../lib/migration/backup.js";
import { sampleManifest } from "../recovery-mode/fixtures.js";

const A = "20250901T080000Z-1.7.47";
const B = "20251017T235348Z-1.7.48";

async function site(spec: Record<string, string>): Promise<Installation> {
  const root = await tmpDir();
  await makeSite(root, "1.7.48");
  const inst = await openInstallation({ root });
  await writeMetadata(inst, { structure_version: 2, installation_version: "1.7.48", created_by: "0.1.0", last_upgraded: null });
  await writeTree(root, spec);
  return inst;
}

const json = async (inst: Installation, rel: string): Promise<Record<string, unknown>> => JSON.parse(await fsp.readFile(path.join(inst.root, rel), "utf8")) as Record<string, unknown>;

describe("migration 1→2: manifest fields", () => {
  it("adds only the missing fields, keeps present ones, and touches nothing else", async () => {
    const inst = await site({
      [`snapshots/${A}/manifest.json`]: JSON.stringify({ id: A, to: "1.7.47", swaps: [{ at: "2025-09-02T00:00:00.000Z", live: "1.7.46" }] }),
      [`user/data/upgrades/${A}.json`]: JSON.stringify({ id: A, to: "1.7.47" }),
      [`user/data/upgrades/notes.txt`]: "not a record",
    });
    assert.deepEqual(
      (await manifestFields.touches(inst)).map((p) => path.relative(inst.root, p)),
      [path.join("snapshots", A, "manifest.json"), path.join("user", "data", "upgrades", `${A}.json`)],
    );
    await manifestFields.migrate(inst, silentLogger);
    assert.deepEqual(await json(inst, `snapshots/${A}/manifest.json`), { id: A, to: "1.7.47", swaps: [{ at: "2025-09-02T00:00:00.000Z", live: "1.7.46" }], downtimeMs: null, timings: {} });
    assert.deepEqual(await json(inst, `user/data/upgrades/${A}.json`), { id: A, to: "1.7.47", swaps: [], downtimeMs: null, timings: {} });
    assert.deepEqual(await manifestFields.touches(inst), [], "nothing left to touch");
    const after = await treeHash(inst.root);
    await manifestFields.migrate(inst, silentLogger);
    assert.equal(await treeHash(inst.root), after, "idempotent");
  });

  it("rollback puts the files back from the backup", async () => {
    const inst = await site({ [`snapshots/${A}/manifest.json`]: JSON.stringify({ id: A, to: "1.7.47" }) });
    const before = await treeHash(inst.root, { exclude: (r) => r.startsWith(".gpm") });
    await takeBackup(inst, 1, 2, await manifestFields.touches(inst), silentLogger);
    await manifestFields.migrate(inst, silentLogger);
    assert.notEqual(await treeHash(inst.root, { exclude: (r) => r.startsWith(".gpm") }), before);
    await manifestFields.rollback(inst, silentLogger);
    assert.equal(await treeHash(inst.root, { exclude: (r) => r.startsWith(".gpm") }), before);
  });
});

describe("migration 2→3: upgrade records out of .gpm/history/", () => {
  it("moves each legacy record to user/data/upgrades/, preferring the stored manifest and never replacing a record", async () => {
    const current = sampleManifest(A, "1.7.46", "1.7.47", { swaps: [{ at: "2025-09-03T00:00:00.000Z", live: "1.7.46" }] });
    const inst = await site({
      [`snapshots/${A}/manifest.json`]: JSON.stringify(current),
      [`.gpm/history/${A}.json`]: JSON.stringify({ id: A, legacy: true }),
      [`.gpm/history/20250101T000000Z-1.7.40.json`]: JSON.stringify({ id: "20250101T000000Z-1.7.40", legacy: true }),
      [`.gpm/history/${B}.json`]: JSON.stringify({ id: B, legacy: true }),
      [`user/data/upgrades/${B}.json`]: JSON.stringify({ id: B, kept: true }),
    });
    await fsp.rm(path.join(inst.root, "user/data/upgrades", `${A}.json`), { force: true });
    await upgradeRecords.migrate(inst, silentLogger);
    assert.deepEqual(await json(inst, `user/data/upgrades/${A}.json`), JSON.parse(JSON.stringify(current)), "the stored manifest is the record");
    assert.deepEqual(await json(inst, "user/data/upgrades/20250101T000000Z-1.7.40.json"), { id: "20250101T000000Z-1.7.40", legacy: true }, "a pruned one keeps its legacy record");
    assert.deepEqual(await json(inst, `user/data/upgrades/${B}.json`), { id: B, kept: true }, "an existing record is never replaced");
    await assert.rejects(fsp.access(path.join(inst.root, ".gpm/history")));
    const after = await treeHash(inst.root);
    await upgradeRecords.migrate(inst, silentLogger);
    assert.equal(await treeHash(inst.root), after, "idempotent");
    assert.deepEqual(await upgradeRecords.touches(inst), []);
  });

  it("leaves files that are not records where they are", async () => {
    const inst = await site({ [".gpm/history/README"]: "mine", [".gpm/history/x.json"]: JSON.stringify({ id: "y" }), [`.gpm/history/${A}.json`]: JSON.stringify({ id: A }) });
    await upgradeRecords.migrate(inst, silentLogger);
    assert.deepEqual((await fsp.readdir(path.join(inst.root, ".gpm/history"))).sort(), ["README", "x.json"]);
    assert.deepEqual(await json(inst, `user/data/upgrades/${A}.json`), { id: A });
  });

  it("touches the history and the outermost folder it creates, and rollback removes what it created", async () => {
    const inst = await site({ [`.gpm/history/${A}.json`]: JSON.stringify({ id: A }) });
    await fsp.rm(path.join(inst.root, "user/data"), { recursive: true, force: true });
    assert.deepEqual(
      (await upgradeRecords.touches(inst)).map((p) => path.relative(inst.root, p)),
      [path.join(".gpm", "history"), path.join("user", "data")],
    );
    const before = await treeHash(inst.root, { exclude: (r) => r.startsWith(".gpm/migration-backup") || r === ".gpm" });
    await takeBackup(inst, 2, 3, await upgradeRecords.touches(inst), silentLogger);
    await upgradeRecords.migrate(inst, silentLogger);
    assert.deepEqual(await json(inst, `user/data/upgrades/${A}.json`), { id: A });
    await upgradeRecords.rollback(inst, silentLogger);
    assert.equal(await treeHash(inst.root, { exclude: (r) => r.startsWith(".gpm/migration-backup") || r === ".gpm" }), before);
  });
});
