import assert from "node:assert/strict";
import http from "node:http";
import { checkPluginConflicts } from "../../../lib/preflight/plugin-conflicts.js";
import { checkPluginDependencies } from "../../../lib/preflight/plugin-dependencies.js";
import { checkPluginUpdates } from "../../../lib/preflight/plugin-updates.js";
import { checkPhpExtensions } from "../../../lib/preflight/php-extensions.js";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import { setPluginEnabledInConfig, readPlugins } from "../../../lib/install/plugins.js";
import { writeTree, tmpDir } from "../../helpers/fixtures.js";
import { installRealPlugin } from "../install/real-plugins.js";
import { input, release } from "./preflight-fixtures.js";

const PSR_LOG_3 = { package: "psr/log", versions: "<3", message: "Grav 1.8 ships psr/log 3" };

async function siteWith(plugins: [Parameters<typeof installRealPlugin>[1], string][], extra: Record<string, string> = {}, config?: Record<string, unknown>): Promise<Installation> {
  const root = await tmpDir();
  await writeTree(root, { "system/defines.php": "<?php define('GRAV_VERSION', '1.7.48');\n", ...extra, ...(config ? { "gpm.json": JSON.stringify(config) } : {}) });
  for (const [zip, as] of plugins) await installRealPlugin(root, zip, as);
  return openInstallation({ root });
}

async function setEnabled(inst: Installation, name: string, enabled: boolean): Promise<void> {
  const p = (await readPlugins(inst)).find((x) => x.name === name)!;
  await setPluginEnabledInConfig(inst, p, enabled);
}

describe("preflight: plugin compatibility the way Grav breaks (real plugins)", () => {
  it("email 4.2.0 (bundles psr/log 1.1.4) fails under a psr/log <3 conflict when enabled, warns when disabled", async () => {
    const inst = await siteWith([["email-4.2.0", "email"]]);
    const rel = release({ version: "1.8.0-beta.29", conflicts: [PSR_LOG_3] });
    const r = await checkPluginConflicts(input(inst, { release: rel }));
    assert.equal(r.status, "fail", r.message);
    assert.match(r.message, /user\/plugins\/email bundles psr\/log 1\.1\.4 \(vendor\/composer\/installed\.json\), but 1\.8\.0-beta\.29 conflicts with psr\/log <3 \(Grav 1\.8 ships psr\/log 3\)/);
    await setEnabled(inst, "email", false);
    const w = await checkPluginConflicts(input(inst, { release: rel }));
    assert.equal(w.status, "warn", w.message);
    assert.match(w.message, /user\/plugins\/email \(disabled\) bundles psr\/log 1\.1\.4/);
  });

  it("email 4.2.1 (replace psr/log) passes the same release", async () => {
    const inst = await siteWith([["email-4.2.1", "email"]]);
    const r = await checkPluginConflicts(input(inst, { release: release({ version: "1.8.0-beta.29", conflicts: [PSR_LOG_3] }) }));
    assert.equal(r.status, "pass", r.message);
  });

  it("login 3.8.13's blueprints dependencies and compatibility are checked against the target and the installed plugins", async () => {
    const inst = await siteWith([["login-3.8.13", "login"], ["email-4.2.1", "email"]]);
    const r = await checkPluginDependencies(input(inst, { release: release({ version: "2.0.0" }) }));
    assert.equal(r.status, "fail", r.message);
    assert.match(r.message, /user\/plugins\/login needs the plugin form >=8\.0\.0, which is not installed/);
    assert.match(r.message, /user\/plugins\/login needs email >=5\.0\.0, but 4\.2\.1 is installed/);
    assert.match(r.message, /needs the plugin shortcode-core >=6\.0\.0, which is not installed/);
    assert.doesNotMatch(r.message, /compatibility/, "login declares 2.0");
    const beta = await checkPluginDependencies(input(inst, { release: release({ version: "1.8.0-beta.29" }) }));
    assert.match(beta.message, /user\/plugins\/login declares compatibility with grav 1\.7, 2\.0, not 1\.8/);
    assert.match(r.message, /user\/plugins\/email needs the plugin form >=7\.0\.0, which is not installed/);
    await setEnabled(inst, "login", false);
    await setEnabled(inst, "email", false);
    const w = await checkPluginDependencies(input(inst, { release: release({ version: "2.0.0" }) }));
    assert.equal(w.status, "warn", w.message);
    assert.match(w.message, /user\/plugins\/login \(disabled\) needs email >=5\.0\.0/);
  });

  it("a grav dependency on a newer release, and a plugin PHP requirement the release excludes, fail when enabled", async () => {
    const inst = await siteWith([], {
      "user/plugins/two/blueprints.yaml": "version: 1.0.0\ndependencies:\n  - { name: grav, version: '>=2.0.0' }\n",
      "user/plugins/oldphp/composer.json": JSON.stringify({ require: { php: "<8.0" } }),
      "user/plugins/ok/blueprints.yaml": "dependencies:\n  - grav\n",
    });
    const r = await checkPluginDependencies(input(inst, { release: release({ version: "1.8.0", requires: { php: "^8.3" } }) }));
    assert.equal(r.status, "fail");
    assert.match(r.message, /user\/plugins\/two needs grav >=2\.0\.0, but the target is 1\.8\.0/);
    assert.match(r.message, /user\/plugins\/oldphp requires PHP "<8\.0", but 1\.8\.0 requires PHP "\^8\.3"/);
    assert.doesNotMatch(r.message, /plugins\/ok/);
    assert.equal((await checkPluginDependencies(input(inst, { release: release({ version: "2.0.0" }) }))).status, "pass", "no PHP range to clash with; grav 2.0.0 meets >=2.0.0");
  });

  it("packagesFeed: a warn naming each plugin with a newer release compatible with the target", async () => {
    const index = {
      email: { slug: "email", version: "4.2.1", dependencies: [{ name: "grav", version: ">=1.7.41" }] },
      login: { slug: "login", version: "3.9.0", dependencies: [{ name: "grav", version: ">=2.0.0" }] },
    };
    const server = http.createServer((_req, res) => res.end(JSON.stringify(index)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const inst = await siteWith([["email-4.2.0", "email"], ["login-3.8.13", "login"]], {}, { packagesFeed: `http://127.0.0.1:${port}/plugins.json` });
      const r = await checkPluginUpdates(input(inst, { release: release({ version: "1.8.0-beta.29" }) }));
      assert.equal(r.status, "warn");
      assert.match(r.message, /1 plugin\/theme update compatible with 1\.8\.0-beta\.29: user\/plugins\/email 4\.2\.0 → 4\.2\.1$/, "login 3.9.0 needs grav 2");
      const r2 = await checkPluginUpdates(input(inst, { release: release({ version: "2.0.0" }) }));
      assert.match(r2.message, /2 plugin\/theme updates .*email 4\.2\.0 → 4\.2\.1; user\/plugins\/login 3\.8\.13 → 3\.9\.0/);
    } finally {
      server.close();
    }
  });

  it("release requires.extensions may use Composer names (ext-zip)", async () => {
    const inst = await siteWith([]);
    const r = await checkPhpExtensions(input(inst, { release: release({ requires: { extensions: ["ext-json", "json"] } }) }));
    assert.equal(r.status, "pass", r.message);
  });
});
