import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { openInstallation } from "../../../lib/install/installation.js";
import { readPlugins, setPluginEnabledInConfig } from "../../../lib/install/plugins.js";
import { setTopLevelBool } from "../../../lib/util/yaml-edit.js";
import { listPackages } from "../../../lib/stage/packages.js";
import { listPlugins } from "../../../lib/recovery-mode/plugins.js";
import { GpmError } from "../../../lib/util/errors.js";
import { tmpDir, writeTree } from "../../helpers/fixtures.js";
import { installRealPlugin } from "./real-plugins.js";

describe("install/plugins: the one plugin reader", () => {
  it("reads the real email 4.2.0 / 4.2.1 and login 3.8.13: versions, bundled packages, replace, dependencies, compatibility", async () => {
    const root = await tmpDir();
    await installRealPlugin(root, "email-4.2.0", "email");
    await installRealPlugin(root, "email-4.2.1", "email421");
    await installRealPlugin(root, "login-3.8.13", "login");
    const inst = await openInstallation({ root });
    const [email, email421, login] = await readPlugins(inst);
    assert.deepEqual([email?.name, email?.version, email?.enabled], ["email", "4.2.0", true]);
    assert.equal(email?.bundled?.packages["psr/log"], "1.1.4", "installed.json (Composer 2 format) is read");
    assert.equal(email?.composer?.replace["psr/log"], undefined);
    assert.equal(email421?.version, "4.2.1");
    assert.equal(email421?.composer?.replace["psr/log"], "*");
    assert.equal(login?.version, "3.8.13");
    assert.deepEqual(login?.blueprint?.dependencies, [
      { name: "grav", version: ">=1.7.41" },
      { name: "form", version: ">=8.0.0" },
      { name: "email", version: ">=5.0.0" },
      { name: "shortcode-core", version: ">=6.0.0" },
    ]);
    assert.deepEqual(login?.blueprint?.compatibility, { grav: ["1.7", "2.0"] });
    assert.equal(login?.composer?.require.php, ">=7.3.6");
  });

  it("reads a composer.json with a UTF-8 BOM, Composer 1's installed.json array, and a linked plugin folder", async () => {
    const root = await tmpDir();
    await writeTree(root, {
      "user/plugins/bom/composer.json": `\ufeff${JSON.stringify({ version: "1.0.0", require: { "psr/log": "^1.0" } })}`,
      "user/plugins/bom/vendor/composer/installed.json": JSON.stringify([{ name: "PSR/Log", version: "1.1.4" }]),
      "elsewhere/linked/blueprints.yaml": "version: 2.0.0\n",
      "user/plugins/linked": { symlink: "../../elsewhere/linked" },
      "user/plugins/.git/HEAD": "x",
    });
    const inst = await openInstallation({ root });
    const plugins = await readPlugins(inst);
    assert.deepEqual(plugins.map((p) => [p.name, p.version]), [["bom", "1.0.0"], ["linked", "2.0.0"]]);
    assert.equal(plugins[0]?.composer?.error, undefined);
    assert.deepEqual(plugins[0]?.composer?.require, { "psr/log": "^1.0" });
    assert.deepEqual(plugins[0]?.bundled?.packages, { "psr/log": "1.1.4" });
  });

  it("manifest, preflight and recovery page agree: settings file, then the plugin's own defaults, then enabled", async () => {
    const root = await tmpDir();
    await writeTree(root, {
      "user/plugins/a/a.yaml": "enabled: false\n",
      "user/plugins/b/b.yaml": "enabled: false\n",
      "user/config/plugins/b.yaml": "# site\nenabled: true\n",
      "user/plugins/c/blueprints.yaml": "dependencies:\n  - { name: grav, version: '>=1.7' }\n",
      "user/themes/quark/blueprints.yaml": "version: '2.0.4' # quoted\n",
      "user/config/themes/quark.yaml": "enabled: false\n",
    });
    const inst = await openInstallation({ root });
    const expected = [["a", false], ["b", true], ["c", true], ["quark", false]];
    assert.deepEqual((await listPackages(inst)).map((p) => [p.name, p.enabled]), expected);
    assert.deepEqual((await listPlugins(inst)).map((p) => [p.name, p.enabled]), expected);
    assert.deepEqual((await listPlugins(inst)).map((p) => p.configFile), ["a", "b", "c"].map((n) => path.join("user", "config", "plugins", `${n}.yaml`)).concat(path.join("user", "config", "themes", "quark.yaml")));
  });

  it("the switch edits enabled: with the yaml parser, keeping comments, flow style and CRLF; a non-mapping file is refused untouched", async () => {
    assert.equal(setTopLevelBool("# c\nenabled: 'true' # was on\nlist: [a, b]\n", "enabled", false), "# c\nenabled: false # was on\nlist: [a, b]\n");
    assert.equal(setTopLevelBool("{ enabled: true, x: 1 }\r\n", "enabled", false), "{ enabled: false, x: 1 }\r\n");
    assert.equal(setTopLevelBool("\ufeffroute: /x\r\n", "enabled", true), "\ufeffenabled: true\r\nroute: /x\r\n");
    assert.equal(setTopLevelBool("nested:\n  enabled: true\n", "enabled", false), "enabled: false\nnested:\n  enabled: true\n");
    assert.throws(() => setTopLevelBool("- a\n- b\n", "enabled", false), /not a YAML mapping/);
    assert.throws(() => setTopLevelBool("{ x: 1 }\n", "enabled", false), /cannot set enabled there/);

    const root = await tmpDir();
    await writeTree(root, { "user/plugins/p/p.yaml": "enabled: true\n", "user/config/plugins/p.yaml": "- not\n- a mapping\n" });
    const inst = await openInstallation({ root });
    const [p] = await readPlugins(inst);
    await assert.rejects(setPluginEnabledInConfig(inst, p!, false), (e: unknown) => e instanceof GpmError && /user\/config\/plugins\/p\.yaml: not a YAML mapping/.test(e.message));
    assert.equal(await fsp.readFile(path.join(root, "user/config/plugins/p.yaml"), "utf8"), "- not\n- a mapping\n");
  });
});
