import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, writeTree } from "../../helpers/fixtures.js";
import { openInstallation } from "../../../lib/install/installation.js";
import { prepareInflightLock, settleInflightLock, INFLIGHT_LOCK } from "../../../lib/web/guard.js";
import { silentLogger, type Logger } from "../../../lib/util/log.js";

/**
 * The in-flight lock must be one PHP can open: a lock the guard cannot hold is
 * one the drain never waits for (torn responses in the real-server test, with a
 * lock left root's 0640 while PHP ran as www-data).
 */
describe("web: the in-flight lock", () => {
  const isRoot = process.getuid?.() === 0;

  async function site(): Promise<string> {
    const root = await tmpDir();
    await writeTree(root, { "system/a.php": "a", ".gpm/.keep": "" });
    return root;
  }

  it("is created mode 0640 when missing, and not when create is false", async () => {
    const root = await site();
    const inst = await openInstallation({ root });
    const lock = path.join(root, ".gpm", INFLIGHT_LOCK);
    await prepareInflightLock(inst, { create: false });
    assert.equal(await fsp.lstat(lock).catch(() => null), null);
    await prepareInflightLock(inst);
    assert.equal((await fsp.stat(lock)).mode & 0o777, 0o640);
  });

  it("a lock of the wrong mode is repaired, and the next swap waits for requests that could not hold it", async () => {
    const root = await site();
    const inst = await openInstallation({ root });
    const lock = path.join(root, ".gpm", INFLIGHT_LOCK);
    await fsp.writeFile(lock, "", { mode: 0o600 });
    await fsp.chmod(lock, 0o600);
    const warned: string[] = [];
    const log = { ...silentLogger, warn: (_o: unknown, m?: string) => void warned.push(String(m)) } as unknown as Logger;
    const t = Date.now();
    await settleInflightLock(inst, log, 300);
    assert.ok(Date.now() - t >= 250, "waited the grace");
    assert.equal((await fsp.stat(lock)).mode & 0o777, 0o640);
    assert.match(warned.join("\n"), /in-flight lock .* PHP could not hold it: fixed; waiting/);
    // Once usable, no wait and no warning.
    warned.length = 0;
    await new Promise((r) => setTimeout(r, 350));
    const t2 = Date.now();
    await settleInflightLock(inst, log, 300);
    assert.ok(Date.now() - t2 < 250);
    assert.deepEqual(warned, []);
  });

  (isRoot ? it : it.skip)("as root, a lock left root's in a site of www-data is given to the site's owner", async () => {
    const root = await site();
    await fsp.chown(root, 33, 33);
    await fsp.chown(path.join(root, ".gpm"), 33, 33);
    const lock = path.join(root, ".gpm", INFLIGHT_LOCK);
    await fsp.writeFile(lock, "", { mode: 0o640 });
    await fsp.chown(lock, 0, 0);
    const inst = await openInstallation({ root });
    await settleInflightLock(inst, silentLogger, 10);
    const st = await fsp.stat(lock);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [33, 33, 0o640]);
  });

  it("a lock that is not a regular file is left alone", async () => {
    const root = await site();
    const inst = await openInstallation({ root });
    const lock = path.join(root, ".gpm", INFLIGHT_LOCK);
    await fsp.symlink("/etc/passwd", lock);
    await prepareInflightLock(inst);
    assert.ok((await fsp.lstat(lock)).isSymbolicLink());
  });
});
