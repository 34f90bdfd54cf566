import assert from "node:assert/strict";
import path from "node:path";
import fsp from "node:fs/promises";
import { openInstallation } from "../../../lib/install/installation.js";
import { listPackages, readComposerRequires } from "../../../lib/stage/packages.js";
import { makeSite, tmpDir, writeTree } from "../../helpers/fixtures.js";

describe("stage/packages", () => {
  async function site(): Promise<string> {
    const root = await tmpDir();
    await makeSite(root, "1.7.48", {
      extra: {
        "user/plugins/admin/blueprints.yaml": "name: Admin Panel\nversion: 1.10.49\ndescription: x\n",
        "user/plugins/admin/composer.json": JSON.stringify({ version: "9.9.9", require: { php: ">=7.3.6", "psr/log": "^1.0", bad: 3 } }),
        "user/plugins/quoted/blueprints.yaml": "name: Q\nversion: '2.0.1' # released\n",
        "user/plugins/quoted/quoted.yaml": "enabled: false\n",
        "user/plugins/off/blueprints.yaml": "meta:\n  version: 0.0.1-nested-not-top-level\n",
        "user/plugins/off/composer.json": "{ not json",
        "user/plugins/.git/HEAD": "ref",
        "user/plugins/README.md": "not a plugin",
        "user/config/plugins/off.yaml": "enabled: false\nother: 1\n",
        "user/config/plugins/quoted.yaml": "enabled: true\n",
        "user/themes/quark/blueprints.yaml": "version: 2.0.4\n",
        "user/config/themes/quark.yaml": "enabled: off\n",
      },
    });
    return root;
  }

  it("lists plugins and themes: folder name, version from blueprints.yaml or composer.json, enabled from the site's config", async () => {
    const inst = await openInstallation({ root: await site() });
    const pkgs = await listPackages(inst);
    assert.deepEqual(pkgs, [
      { name: "admin", version: "1.10.49", enabled: true },
      { name: "myplugin", version: null, enabled: true },
      { name: "off", version: null, enabled: false },
      { name: "quoted", version: "2.0.1", enabled: true },
      { name: "quark", version: "2.0.4", enabled: false },
    ]);
  });

  it("falls back to the plugin's own <name>.yaml for enabled, and composer.json for the version", async () => {
    const root = await tmpDir();
    await writeTree(root, {
      "user/plugins/p/composer.json": JSON.stringify({ version: "3.1.0" }),
      "user/plugins/p/p.yaml": "enabled: false\n",
    });
    const inst = await openInstallation({ root });
    assert.deepEqual(await listPackages(inst), [{ name: "p", version: "3.1.0", enabled: false }]);
  });

  it("reads every composer.json require map, keeping string constraints and reporting unreadable files", async () => {
    const inst = await openInstallation({ root: await site() });
    const req = await readComposerRequires(inst);
    assert.deepEqual(req, [
      { package: "admin", path: "user/plugins/admin/composer.json", require: { php: ">=7.3.6", "psr/log": "^1.0" } },
      { package: "myplugin", path: "user/plugins/myplugin/composer.json", require: { "psr/log": "^1.0 || ^3.0" } },
      { package: "off", path: "user/plugins/off/composer.json", require: {}, error: "composer.json is not valid JSON" },
    ]);
  });

  it("is empty when the plugin folders do not exist", async () => {
    const root = await tmpDir();
    await fsp.mkdir(path.join(root, "user"));
    const inst = await openInstallation({ root });
    assert.deepEqual(await listPackages(inst), []);
    assert.deepEqual(await readComposerRequires(inst), []);
  });
});
