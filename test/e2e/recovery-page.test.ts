/**
 * The recovery page in a real browser (issue 12): Debian's Chromium driven by
 * playwright-core (no browser download), against `gpm recovery serve` run as
 * the real CLI on 127.0.0.1, on a site that really upgraded 1.7.48 → 1.8.0.
 * An operator opens the link, sees what is live, disables and re-enables a
 * plugin, has a replayed POST refused, rolls back through the confirmation
 * (and the tree on disk changes), clears recovery mode, and finally meets a
 * link that has expired. Each step leaves a screenshot in the test's temp
 * folder (and, when that folder exists, in GPM_SCREENSHOTS_DIR).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { chromium, type Browser, type Page } from "playwright-core";
import { GPM_BIN, REPO, makeFeed, makeSite, runGpm, tmpDir, writeTree } from "../helpers/fixtures.js";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  expiresAt: number;
  stderr: () => string;
}

/** `gpm recovery serve --json`: resolves with its one document once the page is up. */
function serve(root: string, ttl: string): Promise<Served> {
  const child = spawn(process.execPath, [GPM_BIN, "recovery", "serve", "--json", "--root", root, "--ttl", ttl], { cwd: REPO, env: { ...process.env, GPM_ROOT: undefined } as NodeJS.ProcessEnv });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 60_000);
    child.stdout.on("data", (d) => {
      out += d;
      if (!out.includes("\n")) return;
      clearTimeout(timer);
      const doc = JSON.parse(out.split("\n")[0]!) as { url: string; expiresAt: string };
      resolve({ child, url: doc.url, expiresAt: Date.parse(doc.expiresAt), stderr: () => err });
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

async function stop(s: Served | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((resolve) => s.child.once("exit", resolve));
  s.child.kill("SIGTERM");
  await exited;
}

describe("e2e: the recovery page in Chromium", function () {
  this.timeout(300_000);
  let base: string;
  let root: string;
  let shots: string;
  let browser: Browser | undefined;
  let served: Served | undefined;
  let step = 0;

  async function shot(page: Page, name: string): Promise<void> {
    const file = path.join(shots, `${String(++step).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    const copyTo = process.env.GPM_SCREENSHOTS_DIR;
    if (copyTo && fs.existsSync(copyTo)) await fsp.copyFile(file, path.join(copyTo, path.basename(file)));
  }
  const read = (rel: string): Promise<string> => fsp.readFile(path.join(root, rel), "utf8");
  /** The row the page marks as the live tree's source is the one `gpm snapshots` names (one function answers both). */
  const assertSameSource = async (page: Page): Promise<void> => {
    const cli = await runGpm(["snapshots", "--json", "--root", root]);
    const want = (JSON.parse(cli.stdout) as { liveSource: string | null }).liveSource;
    assert.ok(want, cli.stderr);
    assert.equal(await page.locator("tr.current code").first().innerText(), want, "the page and `gpm snapshots` agree on where the live tree came from");
  };
  const row = (page: Page, name: string) => page.locator("tr", { has: page.locator(`code:text-is("${name}")`) });

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) this.skip(); // .ci/run installs it
    base = await tmpDir("gpm-page-");
    shots = path.join(base, "screenshots");
    await fsp.mkdir(shots);
    root = path.join(base, "site");
    await makeSite(root, "1.7.48", {
      extra: {
        "user/plugins/shortcodes/blueprints.yaml": "name: Shortcodes\nversion: 5.2.1\n",
        "user/plugins/broken-gallery/blueprints.yaml": "name: Broken Gallery\nversion: 1.0.4\n",
      },
    });
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0" }]);
    const up = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await runGpm(["recovery", "enable", "--reason", "fatal error in broken-gallery after the upgrade", "--root", root])).code, 0);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  after(async () => {
    await stop(served);
    await browser?.close();
  });

  it("opens with a token, switches a plugin, refuses a replay, rolls back through the confirmation, clears recovery mode", async () => {
    served = await serve(root, "10m");
    const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
    const response = await page.goto(served.url);
    assert.equal(response?.status(), 200);
    const liveText = await page.locator("p.ok").first().innerText();
    assert.match(liveText, /Live now: version 1\.8\.0/);
    assert.match(await page.locator("tr.current").innerText(), /live tree came from here/);
    await assertSameSource(page);
    await shot(page, "overview-live-marker");

    // Disable a plugin, keeping the request to replay it later.
    let disableBody = "";
    page.on("request", (r) => {
      if (r.method() === "POST" && r.url().endsWith("/plugins/disable") && !disableBody) disableBody = r.postData() ?? "";
    });
    await row(page, "broken-gallery").getByRole("button", { name: "Disable" }).click();
    await page.waitForLoadState();
    assert.match(await page.locator("p.ok").innerText(), /broken-gallery is disabled/);
    assert.equal(await read("user/config/plugins/broken-gallery.yaml"), "enabled: false\n");
    await shot(page, "plugin-disabled");
    await page.getByRole("button", { name: "Back to the overview" }).click();
    assert.match(await row(page, "broken-gallery").innerText(), /quarantined/);
    await shot(page, "overview-quarantined-first");
    await row(page, "broken-gallery").getByRole("button", { name: "Enable" }).click();
    assert.match(await page.locator("p.ok").innerText(), /broken-gallery is enabled/);
    assert.equal(await read("user/config/plugins/broken-gallery.yaml"), "enabled: true\n");
    await shot(page, "plugin-enabled");

    // Replay: the browser submits a fresh Disable form, but with the first request's body.
    assert.ok(disableBody.includes("nonce="), "the disable request was captured");
    await page.getByRole("button", { name: "Back to the overview" }).click();
    await page.route("**/plugins/disable", (route) => route.continue({ postData: disableBody }));
    const [replay] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/plugins/disable")), row(page, "broken-gallery").getByRole("button", { name: "Disable" }).click()]);
    await page.unroute("**/plugins/disable");
    assert.equal(replay.status(), 409);
    assert.match(await page.locator("p.flag").innerText(), /already used/);
    assert.equal(await read("user/config/plugins/broken-gallery.yaml"), "enabled: true\n", "the replay changed nothing");
    await shot(page, "replayed-post-409");

    // Roll back through the confirmation; content written under 1.8.0 stays live (core only).
    const news = Buffer.from("---\ntitle: News\n---\nwritten under 1.8.0, after the upgrade: café\n");
    await writeTree(root, { "user/pages/02.news/default.md": news });
    await page.getByRole("button", { name: "Back to the overview" }).click();
    assert.match(await read("system/defines.php"), /'1\.8\.0'/);
    await page.getByRole("button", { name: "Roll back to 1.7.48 (core only)…" }).click();
    const plan = await page.locator("ul.plan").innerText();
    assert.match(plan, /Goes live: the 1\.7\.48 core/);
    assert.match(plan, /Stays live: user\/ as it is now/);
    await shot(page, "rollback-confirmation");
    await page.getByRole("button", { name: "Yes: roll back to 1.7.48" }).click();
    assert.match(await page.locator("p.ok").innerText(), /Rollback with \S+ done: version 1\.7\.48 is live/);
    assert.match(await read("system/defines.php"), /'1\.7\.48'/, "the 1.7.48 core is live on disk");
    assert.ok(fs.existsSync(path.join(root, "system/src/only-in-1.7.48.php")));
    assert.ok(!fs.existsSync(path.join(root, "system/src/only-in-1.8.0.php")));
    assert.deepEqual(await fsp.readFile(path.join(root, "user/pages/02.news/default.md")), news, "the page written after the upgrade is still live, byte for byte");
    await shot(page, "rolled-back");

    // The overview now shows 1.7.48 live, a redo, and that recovery mode may be cleared.
    await page.getByRole("button", { name: "Back to the overview" }).click();
    assert.match(await page.locator("p.ok").first().innerText(), /Live now: version 1\.7\.48/);
    await assertSameSource(page);
    assert.ok(await page.getByRole("button", { name: /Redo: put 1\.8\.0 back/ }).first().isVisible());
    await shot(page, "overview-after-rollback");
    await page.getByRole("button", { name: "Clear recovery mode" }).click();
    assert.match(await page.locator("p.ok").innerText(), /Recovery mode is off/);
    assert.ok(!fs.existsSync(path.join(root, "system/recovery.flag")), "the flag is gone");
    await shot(page, "recovery-cleared");
    await page.getByRole("button", { name: "Back to the overview" }).click();
    assert.match(await page.locator("body").innerText(), /Recovery mode is off/);
    await page.close();
    await stop(served);
    served = undefined;
  });

  it("a short-lived link expires: the page then says how to get a new one", async () => {
    served = await serve(root, "2s");
    const page = await browser!.newPage({ viewport: { width: 1200, height: 700 } });
    assert.equal((await page.goto(served.url))?.status(), 200);
    // Wait (with a deadline) until the token's own expiry has passed.
    const deadline = Date.now() + 30_000;
    while (Date.now() <= served.expiresAt + 50) {
      assert.ok(Date.now() < deadline, "the token never expired");
      await new Promise((r) => setTimeout(r, 100));
    }
    const again = await page.reload();
    assert.equal(again?.status(), 401);
    const text = await page.locator("body").innerText();
    assert.match(text, /expired or is not valid/);
    assert.match(text, /gpm recovery token/);
    assert.doesNotMatch(text, /1\.7\.48|broken-gallery/, "nothing about the site");
    await shot(page, "link-expired");
    await page.close();
  });
});
