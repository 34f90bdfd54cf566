import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, writeTree } from "../../helpers/fixtures.js";
import { phpSiteTree } from "../../helpers/php-site.js";
import { requireBinary } from "../../helpers/web-servers.js";
import { runPhpServerCheck } from "../../../lib/promote/php-server.js";
import { PHP_SERVER_DEFAULT } from "../../../lib/install/config.js";

/** The phpServer smoke check (issue 10 item 4) with Debian's php-cli, on a site of our own that boots like Grav. */
describe("promote/phpServer smoke check", function () {
  before(() => requireBinary("php (PHP's command-line interpreter)", ["php"], "php-cli"));
  const env = { GPM_SMOKE_CHECK: "1" };

  async function site(tree = phpSiteTree("1.8.0")): Promise<string> {
    const root = await tmpDir();
    await writeTree(root, tree);
    return root;
  }

  it("passes on a site that boots: 200 and no failPattern in the page", async () => {
    const out = await runPhpServerCheck(await site(), PHP_SERVER_DEFAULT, { timeoutMs: 20_000, env });
    assert.equal(out.reason, null, out.output);
    assert.equal(out.status, 200);
    assert.match(out.output, /versions=1\.8\.0/);
    assert.equal(out.command[0], "php");
    assert.equal(out.command[1], "-S");
    assert.match(out.command[2]!, /^127\.0\.0\.1:\d+$/);
  });

  it("fails on Grav's \"Please run: bin/grav install\" (no vendor/), naming it", async () => {
    const root = await site();
    await fsp.rm(path.join(root, "vendor"), { recursive: true });
    const out = await runPhpServerCheck(root, PHP_SERVER_DEFAULT, { timeoutMs: 20_000, env });
    assert.equal(out.status, 200);
    assert.match(out.reason ?? "", /^smoke check GET \/ answered 200 with "Please run: <i>bin\/grav install" in the page/);
  });

  it("fails on a fatal error (500, or 200 with \"Fatal error\" when errors are displayed) and on a 404 path", async () => {
    const root = await site();
    const fatal = await runPhpServerCheck(root, { ...PHP_SERVER_DEFAULT, path: "/?fatal=1" }, { timeoutMs: 20_000, env });
    assert.match(fatal.reason ?? "", /^smoke check GET \/\?fatal=1 answered (500|200 with "Fatal error")/);
    await fsp.writeFile(path.join(root, "system/router.php"), "<?php http_response_code(404); echo 'nope';\n");
    const missing = await runPhpServerCheck(root, PHP_SERVER_DEFAULT, { timeoutMs: 20_000, env });
    assert.match(missing.reason ?? "", /^smoke check GET \/ answered 404: nope/);
  });

  it("is bounded by timeoutSec: a page that never answers, a server that cannot start", async () => {
    const root = await site();
    await fsp.writeFile(path.join(root, "system/router.php"), "<?php sleep(300);\n");
    const hung = await runPhpServerCheck(root, PHP_SERVER_DEFAULT, { timeoutMs: 1500, env });
    assert.match(hung.reason ?? "", /^smoke check GET \/ got no answer within 2s/);
    const noRouter = await runPhpServerCheck(root, { ...PHP_SERVER_DEFAULT, router: "system/missing.php" }, { timeoutMs: 10_000, env });
    // php -S starts without its router and fails each request instead.
    assert.match(noRouter.reason ?? "", /^smoke check GET \/ answered [45]\d\d/);
  });
});
