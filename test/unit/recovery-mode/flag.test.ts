import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, serveDir, makeSite } from "../../helpers/fixtures.js";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import {
  readRecoveryFlag,
  writeRecoveryFlag,
  clearRecoveryFlag,
  enableRecovery,
  updateQuarantine,
  clearBasis,
  UNREADABLE_REASON,
} from "../../../lib/recovery-mode/flag.js";
import { sampleManifest, storeManifest } from "./fixtures.js";

async function site(config: Record<string, unknown> = {}): Promise<Installation> {
  const root = await tmpDir();
  await makeSite(root, "1.7.48", { config });
  return openInstallation({ root });
}

describe("recovery flag", () => {
  it("is off when absent, and reads back what was written", async () => {
    const inst = await site();
    assert.equal(await readRecoveryFlag(inst), null);
    await writeRecoveryFlag(inst, { reason: "restore failed", createdAt: "2025-10-18T00:00:00.000Z", manifest: "20251017T235348Z-1.8.0", quarantined: ["myplugin"] });
    const flag = await readRecoveryFlag(inst);
    assert.deepEqual(flag, { reason: "restore failed", createdAt: "2025-10-18T00:00:00.000Z", manifest: "20251017T235348Z-1.8.0", quarantined: ["myplugin"], readable: true });
    assert.deepEqual(Object.keys(JSON.parse(await fsp.readFile(inst.paths.recoveryFlag, "utf8"))).sort(), ["createdAt", "manifest", "quarantined", "reason"]);
  });

  it("creates the flag's folder when it is missing", async () => {
    const root = await tmpDir();
    const inst = await openInstallation({ root });
    await writeRecoveryFlag(inst, { reason: "r", createdAt: new Date().toISOString(), manifest: null, quarantined: [] });
    assert.equal(inst.paths.recoveryFlag, path.join(root, "system", "recovery.flag"));
    assert.equal((await readRecoveryFlag(inst))?.reason, "r");
  });

  it("treats a flag that is not JSON (the application's, on a fatal error) as on, with reason 'unreadable flag'", async () => {
    const inst = await site();
    await fsp.writeFile(inst.paths.recoveryFlag, "Fatal error: Class 'Foo' not found\n");
    const flag = await readRecoveryFlag(inst);
    assert.ok(flag);
    assert.equal(flag.reason, UNREADABLE_REASON);
    assert.equal(flag.readable, false);
    assert.match(flag.raw ?? "", /Class 'Foo'/);
    assert.ok(!Number.isNaN(Date.parse(flag.createdAt)));
    for (const odd of ["[1,2]", '"text"', "null", ""]) {
      await fsp.writeFile(inst.paths.recoveryFlag, odd);
      assert.equal((await readRecoveryFlag(inst))?.reason, UNREADABLE_REASON, odd);
    }
  });

  it("drops malformed fields instead of trusting them (a manifest id that is a path, plugin names with slashes)", async () => {
    const inst = await site();
    await fsp.writeFile(inst.paths.recoveryFlag, JSON.stringify({ reason: 7, manifest: "../../etc", quarantined: ["ok-plugin", "../evil", 3, "ok-plugin"] }));
    const flag = (await readRecoveryFlag(inst))!;
    assert.equal(flag.reason, "(no reason given)");
    assert.equal(flag.manifest, null);
    assert.deepEqual(flag.quarantined, ["ok-plugin"]);
  });

  it("clear removes it, and says when there was none", async () => {
    const inst = await site();
    assert.equal(await clearRecoveryFlag(inst), false);
    await writeRecoveryFlag(inst, { reason: "r", createdAt: new Date().toISOString(), manifest: null, quarantined: [] });
    assert.equal(await clearRecoveryFlag(inst), true);
    assert.equal(await readRecoveryFlag(inst), null);
  });

  it("enable records the newest manifest and keeps an existing flag untouched", async () => {
    const inst = await site();
    await storeManifest(inst, sampleManifest("20251017T235348Z-1.8.0", "1.7.48", "1.8.0"));
    const first = await enableRecovery(inst, "site down", new Date("2025-10-18T00:00:00Z"));
    assert.equal(first.created, true);
    assert.equal(first.flag.manifest, "20251017T235348Z-1.8.0");
    const second = await enableRecovery(inst, "another reason");
    assert.equal(second.created, false);
    assert.equal((await readRecoveryFlag(inst))?.reason, "site down");
    assert.equal((await readRecoveryFlag(inst))?.createdAt, "2025-10-18T00:00:00.000Z");
  });

  it("updates the quarantine list, turning an unreadable flag into a readable one that still says so", async () => {
    const inst = await site();
    assert.equal(await updateQuarantine(inst, (n) => [...n, "x"]), null, "no flag: nothing written");
    assert.equal(await readRecoveryFlag(inst), null);
    await fsp.writeFile(inst.paths.recoveryFlag, "boom");
    assert.deepEqual(await updateQuarantine(inst, (n) => [...n, "myplugin"]), ["myplugin"]);
    const flag = (await readRecoveryFlag(inst))!;
    assert.equal(flag.readable, true);
    assert.match(flag.reason, /^unreadable flag: boom/);
    assert.deepEqual(flag.quarantined, ["myplugin"]);
  });

  describe("may it be cleared?", () => {
    const createdAt = "2025-10-18T00:00:00.000Z";
    const flag = { reason: "r", createdAt, manifest: null, quarantined: [] };

    it("yes after a rollback made since the flag was set", async () => {
      const inst = await site({ healthUrl: null });
      await storeManifest(inst, sampleManifest("20251017T235348Z-1.8.0", "1.7.48", "1.8.0", { swaps: [{ at: "2025-10-18T00:05:00.000Z", live: "1.7.48" }] }));
      assert.deepEqual(await clearBasis(inst, flag), { ok: true, because: "rollback", manifest: "20251017T235348Z-1.8.0", at: "2025-10-18T00:05:00.000Z" });
    });

    it("no when the only rollback is older than the flag and there is no healthUrl", async () => {
      const inst = await site({ healthUrl: null });
      await storeManifest(inst, sampleManifest("20251017T235348Z-1.8.0", "1.7.48", "1.8.0", { swaps: [{ at: "2025-10-17T23:59:00.000Z", live: "1.7.48" }] }));
      const basis = await clearBasis(inst, flag);
      assert.equal(basis.ok, false);
      assert.match((basis as { why: string }).why, /no rollback since .*no healthUrl/);
    });

    it("yes when healthUrl answers 2xx, no when it answers 500", async () => {
      const srv = await serveDir(await tmpDir(), { "/ok": { status: 200, body: "fine" }, "/down": { status: 500, body: "boom" } });
      try {
        const good = await site({ healthUrl: `${srv.url}/ok` });
        assert.deepEqual(await clearBasis(good, flag), { ok: true, because: "health", url: `${srv.url}/ok`, status: 200 });
        const bad = await site({ healthUrl: `${srv.url}/down` });
        const basis = await clearBasis(bad, flag);
        assert.equal(basis.ok, false);
        assert.match((basis as { why: string }).why, /health check of .*\/down failed: HTTP 500/);
      } finally {
        await srv.close();
      }
    });
  });
});
