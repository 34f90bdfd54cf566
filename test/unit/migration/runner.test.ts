import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, treeHash, treeState, writeTree } from "../../helpers/fixtures.js";
import { openInstallation, readMetadata, writeMetadata, STRUCTURE_VERSION, GPM_VERSION, type Installation } from "../../../lib/install/installation.js";
import { GpmError, Exit } from "../../../lib/util/errors.js";
import { silentLogger } from "../../../lib/util/log.js";
import { applyAutoMigrations, migrateInstallation, planMigrations } from "../../../lib/migration/runner.js";
import { MIGRATIONS } from "../../../lib/migration/migrations/index.js";
import { manifestFields } from "../../../lib/migration/migrations/manifest-fields.js";
import { backupDir, backupRoot, restoreBackup, takeBackup } from "../../../lib/migration/backup.js";
import type { Migration } from "../../../lib/migration/types.js";
import { sampleManifest, captureLog } from "../recovery-mode/fixtures.js";

const OLD_ID = "20250901T080000Z-1.7.47";
const NEW_ID = "20251017T235348Z-1.7.48";

/** A manifest as structure 1 wrote it: no swaps, downtimeMs or timings. */
function v1Manifest(id: string, from: string, to: string): Record<string, unknown> {
  const m: Record<string, unknown> = { ...sampleManifest(id, from, to) };
  delete m.swaps;
  delete m.downtimeMs;
  delete m.timings;
  return m;
}

/** A managed site at structure `structure`, with v1 manifests, their record copies, and legacy .gpm/history records. */
async function site(structure: number, opts: { history?: boolean } = {}): Promise<Installation> {
  const root = await tmpDir();
  await makeSite(root, "1.7.48");
  const inst = await openInstallation({ root });
  await writeMetadata(inst, { structure_version: structure, installation_version: "1.7.48", created_by: "0.0.1", last_upgraded: "2025-10-17T23:54:01.000Z" });
  await writeTree(root, {
    [`snapshots/${OLD_ID}/manifest.json`]: JSON.stringify(v1Manifest(OLD_ID, "1.7.46", "1.7.47")),
    [`snapshots/${NEW_ID}/manifest.json`]: JSON.stringify({ ...v1Manifest(NEW_ID, "1.7.47", "1.7.48"), swaps: [] }),
    [`user/data/upgrades/${NEW_ID}.json`]: JSON.stringify(v1Manifest(NEW_ID, "1.7.47", "1.7.48")),
    [`snapshots/torn-1/manifest.json`]: "{ not json",
  });
  if (opts.history) {
    await writeTree(root, {
      [`.gpm/history/${OLD_ID}.json`]: JSON.stringify(v1Manifest(OLD_ID, "1.7.46", "1.7.47")),
      [".gpm/history/20250101T000000Z-1.7.40.json"]: JSON.stringify(v1Manifest("20250101T000000Z-1.7.40", "1.7.39", "1.7.40")),
      [`.gpm/history/${NEW_ID}.json`]: JSON.stringify({ id: NEW_ID, stale: true }),
    });
  }
  return inst;
}

const json = async (file: string): Promise<Record<string, unknown>> => JSON.parse(await fsp.readFile(file, "utf8")) as Record<string, unknown>;
const structure = async (inst: Installation): Promise<number | undefined> => (await readMetadata(inst))?.structure_version;

describe("migration runner", () => {
  it("the migrations form one chain 0 → 1 → … → STRUCTURE_VERSION, one version per step", () => {
    assert.equal(MIGRATIONS[0]?.from, 0, "0 → 1 adopts an unmanaged installation");
    MIGRATIONS.forEach((m, i) => {
      assert.equal(m.to, m.from + 1, `${m.from}→${m.to}`);
      if (i > 0) assert.equal(m.from, MIGRATIONS[i - 1]!.to);
    });
    assert.equal(MIGRATIONS.at(-1)?.to, STRUCTURE_VERSION);
  });

  it("runs 1→2 (auto) on a structure-1 installation and stops before 2→3 (prompt) with one warning", async () => {
    const inst = await site(1, { history: true });
    const { log, messages } = captureLog();
    await applyAutoMigrations(inst, log);
    assert.equal(await structure(inst), 2);
    for (const file of [`snapshots/${OLD_ID}/manifest.json`, `snapshots/${NEW_ID}/manifest.json`, `user/data/upgrades/${NEW_ID}.json`]) {
      const m = await json(path.join(inst.root, file));
      assert.deepEqual([m.swaps, m.downtimeMs, m.timings], [[], null, {}], file);
      assert.equal(m.to !== undefined && m.package !== undefined, true, "other fields kept");
    }
    assert.equal(await fsp.readFile(path.join(inst.root, "snapshots/torn-1/manifest.json"), "utf8"), "{ not json", "a torn file is left alone");
    assert.deepEqual(messages.filter((m) => m.includes("needs `gpm migrate-installation`")), ["structure migration 2→3 needs `gpm migrate-installation`"]);
    assert.ok((await fsp.readdir(path.join(inst.root, ".gpm/history"))).length === 3, "the prompt step did not run");
    await assert.rejects(fsp.access(backupRoot(inst)), "the backup is gone after success");
    const meta = await readMetadata(inst);
    assert.equal(meta?.installation_version, "1.7.48", "other metadata kept");
  });

  it("is idempotent: a second run changes nothing", async () => {
    const inst = await site(1, { history: true });
    await applyAutoMigrations(inst, silentLogger);
    const after = await treeHash(inst.root);
    await applyAutoMigrations(inst, silentLogger);
    assert.equal(await treeHash(inst.root), after);
  });

  it("never touches an unmanaged root (no metadata.json)", async () => {
    const root = await tmpDir();
    await makeSite(root, "1.7.48");
    await writeTree(root, { [`snapshots/${OLD_ID}/manifest.json`]: JSON.stringify(v1Manifest(OLD_ID, "1.7.46", "1.7.47")) });
    const inst = await openInstallation({ root });
    const before = await treeHash(root);
    await applyAutoMigrations(inst, silentLogger);
    assert.equal(await treeHash(root), before);
    await assert.rejects(fsp.access(inst.paths.gpmDir), "not even .gpm/ is created");
    const plan = await planMigrations(inst);
    assert.deepEqual([plan.managed, plan.current, plan.steps.length], [false, 0, STRUCTURE_VERSION], "adoption is planned, never applied on its own");
  });

  it("writes nothing when the structure is current", async () => {
    const inst = await site(STRUCTURE_VERSION);
    const before = await treeState(inst.root);
    await applyAutoMigrations(inst, silentLogger);
    assert.deepEqual(await treeState(inst.root), before);
  });

  it("refuses a structure newer than it knows (exit 3)", async () => {
    const inst = await site(STRUCTURE_VERSION + 1);
    await assert.rejects(applyAutoMigrations(inst, silentLogger), (err: unknown) => err instanceof GpmError && err.code === Exit.BLOCKED && /newer than this gpm/.test(err.message));
  });

  it("migrateInstallation plans, asks, and then runs auto and prompt steps", async () => {
    const inst = await site(1, { history: true });
    const asked: number[] = [];
    const dry = await migrateInstallation(inst, { log: silentLogger, dryRun: true, confirm: async () => (asked.push(1), true) });
    assert.deepEqual(
      dry.plan.steps.map((s) => `${s.from}→${s.to} ${s.risk}`),
      ["1→2 auto", "2→3 prompt"],
    );
    assert.deepEqual([dry.applied, asked.length, await structure(inst)], [[], 0, 1], "a dry run neither asks nor changes");
    const res = await migrateInstallation(inst, { log: silentLogger, confirm: async (plan) => (asked.push(plan.steps.length), true) });
    assert.deepEqual(asked, [2]);
    assert.deepEqual(res.applied.map((s) => s.to), [2, 3]);
    assert.equal(await structure(inst), 3);
    await assert.rejects(fsp.access(path.join(inst.root, ".gpm/history")), "the legacy folder is gone");
  });

  it("a 'no' changes nothing", async () => {
    const inst = await site(2, { history: true });
    const before = await treeHash(inst.root);
    await assert.rejects(migrateInstallation(inst, { log: silentLogger, confirm: async () => false }), /not confirmed/);
    assert.equal(await treeHash(inst.root), before);
  });

  describe("a failing migration", () => {
    const victim = (inst: Installation): string => path.join(inst.root, "user/data/victim.txt");
    const created = (inst: Installation): string => path.join(inst.root, "user/data/new-folder");
    /** 2→3 that changes a file and creates a folder, then fails half-way. */
    function failing(rollback: Migration["rollback"]): Migration {
      return {
        from: 2,
        to: 3,
        risk: "auto",
        description: "test step that fails",
        touches: async (inst) => [victim(inst), created(inst)],
        migrate: async (inst) => {
          await fsp.writeFile(victim(inst), "half-migrated\n");
          await fsp.mkdir(created(inst), { recursive: true });
          await fsp.writeFile(path.join(created(inst), "x"), "x");
          throw new Error("disk on fire");
        },
        rollback,
      };
    }

    async function check(m: Migration): Promise<void> {
      const inst = await site(1);
      await writeTree(inst.root, { "user/data/victim.txt": { content: "original\n", mode: 0o640 } });
      const { log, messages } = captureLog();
      await assert.rejects(applyAutoMigrations(inst, log, [manifestFields, m]), (err: unknown) => {
        assert.ok(err instanceof GpmError);
        assert.equal(err.code, Exit.ERROR);
        assert.match(err.message, /structure migration 2→3 \(test step that fails\) failed: disk on fire; it was rolled back and the structure stays at 2/);
        return true;
      });
      assert.equal(await structure(inst), 2, "1→2 succeeded, 2→3 did not");
      const st = await treeState(path.join(inst.root, "user/data"));
      assert.deepEqual(Object.keys(st).sort(), ["upgrades", `upgrades/${NEW_ID}.json`, "victim.txt"]);
      assert.equal(await fsp.readFile(victim(inst), "utf8"), "original\n");
      assert.equal(st["victim.txt"]?.mode, 0o640);
      await assert.rejects(fsp.access(backupRoot(inst)));
      assert.ok(messages.some((l) => l.includes("failed; rolling it back")));
    }

    it("is rolled back by its own rollback(), and the structure stays at the last good version", async () => {
      await check(failing(async (inst, log) => restoreBackup(inst, 2, 3, log)));
    });

    it("is undone from the backup when its rollback() fails too", async () => {
      await check(
        failing(async () => {
          throw new Error("rollback broken");
        }),
      );
    });
  });

  it("continues an interrupted step from the backup taken before it", async () => {
    const inst = await site(1);
    const original = await fsp.readFile(path.join(inst.root, `snapshots/${OLD_ID}/manifest.json`), "utf8");
    // A run that backed up and then died half-way (one manifest done).
    await takeBackup(inst, 1, 2, await manifestFields.touches(inst), silentLogger);
    await fsp.writeFile(path.join(inst.root, `snapshots/${OLD_ID}/manifest.json`), JSON.stringify({ ...JSON.parse(original), swaps: [], downtimeMs: null, timings: {} }));
    const { log, messages } = captureLog();
    await applyAutoMigrations(inst, log, [manifestFields]);
    assert.equal(await structure(inst), 2);
    assert.ok(messages.some((m) => m.includes("interrupted earlier")));
    assert.deepEqual((await json(path.join(inst.root, `user/data/upgrades/${NEW_ID}.json`))).swaps, []);
    await assert.rejects(fsp.access(backupDir(inst, 1, 2)));
  });

  it("drops a backup left after the version was already raised", async () => {
    const inst = await site(2);
    await fsp.mkdir(path.join(backupDir(inst, 1, 2), "files"), { recursive: true });
    await applyAutoMigrations(inst, silentLogger);
    await assert.rejects(fsp.access(backupRoot(inst)));
  });

  it("refuses a migration that would touch a path outside the root or the backup store", async () => {
    const inst = await site(1);
    for (const bad of [path.dirname(inst.root), inst.root, inst.paths.gpmDir, path.join(backupRoot(inst), "x")]) {
      const m: Migration = { ...manifestFields, touches: async () => [bad] };
      await assert.rejects(applyAutoMigrations(inst, silentLogger, [m]), /outside what a migration may change/, bad);
      assert.equal(await structure(inst), 1);
      await assert.rejects(fsp.access(backupRoot(inst)), "nothing written");
    }
  });

  it("created_by stays the gpm that created the metadata", async () => {
    const inst = await site(1);
    await applyAutoMigrations(inst, silentLogger);
    assert.equal((await readMetadata(inst))?.created_by, "0.0.1");
    assert.notEqual(GPM_VERSION, "0.0.1");
  });
});
