import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, writeTree, treeHash } from "../../helpers/fixtures.js";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import { beginTransaction, applyMoves, undoTransaction, planMove, raiseMaintenanceFlag } from "../../../lib/txn/transaction.js";
import { readJournal, type Move } from "../../../lib/txn/journal.js";
import { silentLogger } from "../../../lib/util/log.js";
import { reloadSeams } from "../../../lib/util/seams.js";

/** The transaction layer on real folders: journal first, undo worked out from the disk by inode. */
describe("txn: journaled moves", () => {
  let inst: Installation;

  beforeEach(async () => {
    const root = await tmpDir();
    await writeTree(root, {
      "system/a.php": "old a",
      "vendor/v.php": "old v",
      "index.php": "old index",
      "snapshots/S/package/system/a.php": "new a",
      "snapshots/S/package/vendor/v.php": "new v",
      "snapshots/S/package/index.php": "new index",
      "user/pages/p.md": "content",
    });
    await fsp.mkdir(path.join(root, "snapshots/S/previous"), { recursive: true });
    inst = await openInstallation({ root });
  });

  async function swapPlan(): Promise<Move[]> {
    const moves: Move[] = [];
    for (const e of ["index.php", "system", "vendor"]) {
      moves.push((await planMove(inst, e, `snapshots/S/previous/${e}`))!);
      moves.push((await planMove(inst, `snapshots/S/package/${e}`, e))!);
    }
    return moves;
  }

  /** The tree without .gpm/ (the journal's folder stays, empty, after a transaction). */
  const hash = (): Promise<string> => treeHash(inst.root, { exclude: (p) => p === ".gpm" || p.startsWith(".gpm/") });
  const read = (rel: string): Promise<string> => fsp.readFile(path.join(inst.root, rel), "utf8");

  it("writes the journal before any move and removes it after undo", async () => {
    const before = await hash();
    const j = await beginTransaction(inst, { kind: "upgrade", manifestId: "S", moves: await swapPlan(), maintenanceFlag: ".upgrading", from: "1", to: "2" });
    const onDisk = await readJournal(inst);
    assert.equal(onDisk?.moves.length, 6);
    assert.equal(onDisk?.phase, "applying");
    assert.equal(await hash(), before, "only the journal was written");
    await raiseMaintenanceFlag(inst, j, { pid: 1 });
    await applyMoves(inst, j, silentLogger);
    assert.equal(await read("system/a.php"), "new a");
    assert.equal(await read("snapshots/S/previous/system/a.php"), "old a");
    await undoTransaction(inst, j, silentLogger);
    assert.equal(await hash(), before, "byte for byte as before, flag and journal gone");
    assert.equal(await readJournal(inst), undefined);
  });

  it("undo after a partial apply finds from the disk which moves happened, and can run twice", async () => {
    const before = await hash();
    const moves = await swapPlan();
    const j = await beginTransaction(inst, { kind: "upgrade", manifestId: "S", moves, maintenanceFlag: null, from: "1", to: "2" });
    // Make only the first three moves, as a process killed mid-swap would have.
    await fsp.rename(path.join(inst.root, "index.php"), path.join(inst.root, "snapshots/S/previous/index.php"));
    await fsp.rename(path.join(inst.root, "snapshots/S/package/index.php"), path.join(inst.root, "index.php"));
    await fsp.rename(path.join(inst.root, "system"), path.join(inst.root, "snapshots/S/previous/system"));
    const fromDisk = (await readJournal(inst))!;
    await undoTransaction(inst, fromDisk, silentLogger);
    assert.equal(await hash(), before);
    // Undo of an undo that already finished (journal rewritten as if killed before its removal).
    await fsp.mkdir(path.join(inst.root, ".gpm"), { recursive: true });
    await fsp.writeFile(inst.paths.journal, JSON.stringify({ ...j, phase: "undoing" }));
    await undoTransaction(inst, (await readJournal(inst))!, silentLogger);
    assert.equal(await hash(), before);
  });

  it("refuses a plan whose destination is occupied (a rename would replace it silently)", async () => {
    await writeTree(inst.root, { "snapshots/S/previous/system/x": "in the way" });
    await assert.rejects(beginTransaction(inst, { kind: "upgrade", manifestId: "S", moves: await swapPlan(), maintenanceFlag: null, from: "1", to: "2" }), /already exists/);
    assert.equal(await readJournal(inst), undefined, "no journal for a refused plan");
  });

  it("an entry replaced behind gpm's back is not mistaken for the one it planned (identity is the inode)", async () => {
    const moves = await swapPlan();
    const j = await beginTransaction(inst, { kind: "upgrade", manifestId: "S", moves, maintenanceFlag: null, from: "1", to: "2" });
    await fsp.rm(path.join(inst.root, "vendor"), { recursive: true });
    await writeTree(inst.root, { "vendor/v.php": "someone else's" });
    await assert.rejects(applyMoves(inst, j, silentLogger), /vendor changed or vanished/);
    await undoTransaction(inst, j, silentLogger);
    assert.equal(await read("vendor/v.php"), "someone else's", "left alone");
    assert.equal(await read("system/a.php"), "old a");
  });

  it("an optional move whose entry vanished is skipped (cache contents)", async () => {
    await writeTree(inst.root, { "cache/c1": "x" });
    const m = (await planMove(inst, "cache/c1", "snapshots/S/c1", true))!;
    const j = await beginTransaction(inst, { kind: "upgrade", manifestId: "S", moves: [m], maintenanceFlag: null, from: "1", to: "2" });
    await fsp.rm(path.join(inst.root, "cache/c1"));
    await applyMoves(inst, j, silentLogger);
    await undoTransaction(inst, j, silentLogger);
    assert.deepEqual(await fsp.readdir(path.join(inst.root, "cache")), []);
  });

  describe("across devices (EXDEV: the copy fallback)", () => {
    beforeEach(() => {
      process.env.GPM_TEST_EXDEV = "1";
      reloadSeams();
    });
    afterEach(() => {
      delete process.env.GPM_TEST_EXDEV;
      reloadSeams();
    });

    it("copies instead of renaming, keeps links verbatim, and undoes by copying back", async () => {
      await fsp.symlink("a.php", path.join(inst.root, "snapshots/S/package/system/link.php"));
      const before = await hash();
      const j = await beginTransaction(inst, { kind: "upgrade", manifestId: "S", moves: await swapPlan(), maintenanceFlag: null, from: "1", to: "2" });
      await applyMoves(inst, j, silentLogger);
      assert.equal(await read("system/a.php"), "new a");
      assert.equal(await fsp.readlink(path.join(inst.root, "system/link.php")), "a.php");
      assert.equal(await read("snapshots/S/previous/vendor/v.php"), "old v");
      const onDisk = (await readJournal(inst))!;
      assert.equal(Object.keys(onDisk.copies).length, 6, "each copy's identity journaled");
      await undoTransaction(inst, onDisk, silentLogger);
      assert.equal(await hash(), before);
    });

    it("a crash after the copy was built but before the source was retired undoes cleanly", async () => {
      const before = await hash();
      const moves = await swapPlan();
      const j = await beginTransaction(inst, { kind: "upgrade", manifestId: "S", moves, maintenanceFlag: null, from: "1", to: "2" });
      // A half-built copy of the first move, as a kill during cp would leave it.
      await writeTree(inst.root, { "snapshots/S/previous/index.php.gpm-partial": "old in" });
      await undoTransaction(inst, j, silentLogger);
      assert.equal(await hash(), before);
    });
  });
});
