import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, treeHash, writeTree } from "../../helpers/fixtures.js";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import { GpmError, Exit } from "../../../lib/util/errors.js";
import { listPlugins, setPluginEnabled, setEnabledLine, findPlugin } from "../../../lib/recovery-mode/plugins.js";
import { readRecoveryFlag, writeRecoveryFlag } from "../../../lib/recovery-mode/flag.js";

async function site(): Promise<Installation> {
  const root = await tmpDir();
  await makeSite(root, "1.7.48", { extra: { "user/themes/quark/quark.php": "<?php\n", "user/config/themes/quark.yaml": "enabled: false\n" } });
  return openInstallation({ root });
}

describe("recovery plugins", () => {
  it("lists plugin and theme folders with their enabled state", async () => {
    const inst = await site();
    const plugins = await listPlugins(inst);
    assert.deepEqual(
      plugins.map((p) => [p.name, p.dir, p.enabled, p.configFile]),
      [
        ["myplugin", "user/plugins", true, path.join("user", "config", "plugins", "myplugin.yaml")],
        ["quark", "user/themes", false, path.join("user", "config", "themes", "quark.yaml")],
      ],
    );
  });

  it("disable writes `enabled: false` into user/config/plugins/<name>.yaml and quarantines it while the flag is up", async () => {
    const inst = await site();
    await writeRecoveryFlag(inst, { reason: "r", createdAt: new Date().toISOString(), manifest: null, quarantined: [] });
    await setPluginEnabled(inst, "myplugin", false);
    assert.equal(await fsp.readFile(path.join(inst.root, "user/config/plugins/myplugin.yaml"), "utf8"), "enabled: false\n");
    assert.deepEqual((await readRecoveryFlag(inst))?.quarantined, ["myplugin"]);
    assert.equal((await findPlugin(inst, "myplugin")).enabled, false);
    await setPluginEnabled(inst, "myplugin", true);
    assert.equal(await fsp.readFile(path.join(inst.root, "user/config/plugins/myplugin.yaml"), "utf8"), "enabled: true\n");
    assert.deepEqual((await readRecoveryFlag(inst))?.quarantined, []);
  });

  it("keeps every other line of an existing config", async () => {
    const inst = await site();
    const file = path.join(inst.root, "user/config/plugins/myplugin.yaml");
    await writeTree(inst.root, { "user/config/plugins/myplugin.yaml": "# my settings\nenabled: true # on\nroute: /blog\nnested:\n  enabled: true\n" });
    await setPluginEnabled(inst, "myplugin", false);
    assert.equal(await fsp.readFile(file, "utf8"), "# my settings\nenabled: false # on\nroute: /blog\nnested:\n  enabled: true\n");
    assert.equal(await readRecoveryFlag(inst), null, "no flag is created by a switch");
  });

  it("setEnabledLine adds the line at the top (after ---) and keeps CRLF", () => {
    assert.equal(setEnabledLine("---\nroute: /x\n", false), "---\nenabled: false\nroute: /x\n");
    assert.equal(setEnabledLine("route: /x\r\nenabled: yes\r\n", false), "route: /x\r\nenabled: false\r\n");
    assert.equal(setEnabledLine("", true), "enabled: true\n");
  });

  it("refuses a name that is a path or that is not installed, writing nothing", async () => {
    const inst = await site();
    const before = await treeHash(inst.root);
    for (const bad of ["../../etc/passwd", "..", "my/plugin", "nosuch", ""]) {
      await assert.rejects(
        setPluginEnabled(inst, bad, false),
        (err: unknown) => err instanceof GpmError && err.code === Exit.ERROR,
        bad,
      );
    }
    assert.equal(await treeHash(inst.root), before);
  });
});
