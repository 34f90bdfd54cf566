import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { tmpDir, makeSite, makeFeed, runGpm, treeHash, notGpmState } from "../helpers/fixtures.js";
import { phpSiteTree } from "../helpers/php-site.js";
import { requireBinary } from "../helpers/web-servers.js";

/**
 * Issue 10 item 4: the default smoke check is `php -S 127.0.0.1:<port>
 * system/router.php` on the promoted tree. On a site of our own that boots
 * like Grav it passes; on the real Grav 1.7.48 tree (a git archive: no
 * vendor/) Grav answers "Please run: <i>bin/grav install</i>", so the upgrade
 * fails cleanly: exit 4, the old tree restored byte for byte.
 */

const REAL = process.env.GPM_REAL_FIXTURES ?? "/work/shared/fixtures/real";

describe("e2e: the phpServer smoke check (the default)", function () {
  this.timeout(300_000);
  before(() => requireBinary("php (PHP's command-line interpreter)", ["php"], "php-cli"));

  it("passes on a PHP site that boots like Grav; the manifest records the command", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.0.0", { config: { smokeCheck: { timeoutSec: 60 } }, extra: phpSiteTree("1.0.0") });
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.1.0", tree: phpSiteTree("1.1.0") }]);
    const pre = await runGpm(["preflight", "--root", root, "--feed", feed, "--json"]);
    const smoke = (JSON.parse(pre.stdout) as { checks: { id: string; status: string; message: string }[] }).checks.find((c) => c.id === "smoke-command")!;
    assert.equal(smoke.status, "pass", smoke.message);
    assert.match(smoke.message, /php -S 127\.0\.0\.1:<port> system\/router\.php/);

    const r = await runGpm(["self-upgrade", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const m = (JSON.parse(r.stdout) as { manifest: { smoke: { command: string[]; status: number; output: string } } }).manifest;
    assert.deepEqual(m.smoke.command.slice(0, 2), ["php", "-S"]);
    assert.equal(m.smoke.command[3], "system/router.php");
    assert.equal(m.smoke.status, 200);
    assert.match(m.smoke.output, /versions=1\.1\.0/);
  });

  it("a release whose page says \"Please run: bin/grav install\" fails cleanly: exit 4, the tree restored", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.0.0", { config: { smokeCheck: { timeoutSec: 60 } }, extra: phpSiteTree("1.0.0") });
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.1.0", tree: phpSiteTree("1.1.0", { drop: ["vendor/autoload.php"] }) }]);
    const before = await treeHash(root, { exclude: notGpmState });
    const r = await runGpm(["self-upgrade", "--root", root, "--feed", feed]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /smoke check GET \/ answered 200 with "Please run: <i>bin\/grav install" in the page.*the previous tree was restored/);
    assert.equal(await treeHash(root, { exclude: notGpmState }), before);
  });

  it("preflight: php missing from PATH fails; a router missing from the installed tree warns", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.0.0", { config: { smokeCheck: { timeoutSec: 60 } }, extra: phpSiteTree("1.0.0") });
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.1.0", tree: phpSiteTree("1.1.0") }]);
    const check = async (env: Record<string, string>): Promise<{ status: string; message: string; fix: string }> => {
      const pre = await runGpm(["preflight", "--root", root, "--feed", feed, "--json"], { env });
      return (JSON.parse(pre.stdout) as { checks: { id: string; status: string; message: string; fix: string }[] }).checks.find((c) => c.id === "smoke-command")!;
    };
    const nophp = await tmpDir("gpm-nophp-");
    await fsp.symlink(process.execPath, path.join(nophp, "node"));
    const noPhp = await check({ PATH: nophp });
    assert.equal(noPhp.status, "fail");
    assert.match(`${noPhp.message} — ${noPhp.fix}`, /needs `php` .* not on PATH — install PHP's command-line interpreter \(Debian: php-cli\)/);
    await fsp.rm(path.join(root, "system/router.php"));
    const noRouter = await check({});
    assert.equal(noRouter.status, "warn");
    assert.match(noRouter.message, /router system\/router\.php is not in the installed tree/);
  });

  it("the real Grav 1.7.48 release (no vendor/ in a git archive): exit 4, the tree restored byte for byte, no vendor/ left", async function () {
    const zip = path.join(REAL, "grav/grav-update-1.7.48.zip");
    if (!fs.existsSync(zip)) throw new Error(`the real fixture ${zip} is missing (set GPM_REAL_FIXTURES to the folder of fixtures/real)`);
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.7.47", { config: { smokeCheck: { timeoutSec: 60 } }, extra: phpSiteTree("1.7.47") });
    const bytes = await fsp.readFile(zip);
    const feed = path.join(base, "releases.json");
    await fsp.writeFile(
      feed,
      JSON.stringify({ releases: [{ version: "1.7.48", url: pathToFileURL(zip).href, sha256: crypto.createHash("sha256").update(bytes).digest("hex"), size: bytes.length, date: "2024-10-29", channel: "stable" }] }),
    );
    const before = await treeHash(root, { exclude: notGpmState });
    const r = await runGpm(["self-upgrade", "--root", root, "--feed", feed]);
    assert.equal(r.code, 4, r.stderr);
    // Our site's vendor/ is foreign to an unmanaged install and stays beside Grav's core: Grav then
    // fails on its own classes (500); alone, the tree answers "Please run: <i>bin/grav install</i>".
    assert.match(r.stderr, /smoke check GET \/ answered (500|200 with "Please run: <i>bin\/grav install")/);
    assert.equal(await treeHash(root, { exclude: notGpmState }), before, "the old tree, byte for byte");
    assert.ok(fs.existsSync(path.join(root, "vendor/autoload.php")), "our own vendor/ is back; Composer never ran");
  });
});
