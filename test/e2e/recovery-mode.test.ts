import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { spawn } from "node:child_process";
import { tmpDir, makeSite, makeFeed, runGpm, serveDir, GPM_BIN, REPO, writeTree } from "../helpers/fixtures.js";
import { jsonDoc } from "../helpers/json.js";
import { openInstallation } from "../../lib/install/installation.js";
import { verifyToken } from "../../lib/recovery-mode/token.js";
import { formFields } from "../helpers/html.js";

const ID = "20251017T235348Z-1.8.0";

async function site(config: Record<string, unknown> = {}): Promise<string> {
  const root = await tmpDir();
  await makeSite(root, "1.8.0", { config });
  return root;
}

const flagFile = (root: string): string => path.join(root, "system", "recovery.flag");
const gpm = (root: string, ...args: string[]) => runGpm(["--root", root, ...args]);

/** Start `gpm recovery serve` and resolve with the child and its first stdout line. */
function startServe(args: string[]): Promise<{ child: ReturnType<typeof spawn>; first: string; out: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [GPM_BIN, ...args], { cwd: REPO, env: { ...process.env, GPM_ROOT: undefined } as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stderr!.on("data", (d) => (stderr += d));
    child.stdout!.on("data", (d) => {
      stdout += d;
      const nl = stdout.indexOf("\n");
      if (nl >= 0 && timer) {
        clearTimeout(timer);
        resolve({ child, first: stdout.slice(0, nl), out: () => stdout, exited });
      }
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
}

describe("e2e: gpm recovery", () => {
  it("status says off, enable needs --reason (exit 2), then status shows the flag", async () => {
    const root = await site();
    const off = await gpm(root, "recovery", "status", "--json");
    assert.equal(off.code, 0, off.stderr);
    assert.equal(jsonDoc(off.stdout).recovery, false);

    const noReason = await gpm(root, "recovery", "enable");
    assert.equal(noReason.code, 2, noReason.stderr);
    const empty = await gpm(root, "recovery", "enable", "--reason", " ");
    assert.equal(empty.code, 2, empty.stderr);
    await assert.rejects(fsp.access(flagFile(root)), "no flag written by a usage error");

    const on = await gpm(root, "recovery", "enable", "--reason", "site down after upgrade");
    assert.equal(on.code, 0, on.stderr);
    const flag = JSON.parse(await fsp.readFile(flagFile(root), "utf8"));
    assert.equal(flag.reason, "site down after upgrade");
    assert.deepEqual(flag.quarantined, []);

    const st = await gpm(root, "recovery", "status", "--json");
    assert.equal(st.code, 0);
    const doc = jsonDoc(st.stdout);
    assert.deepEqual([doc.recovery, doc.reason, doc.since], [true, "site down after upgrade", flag.createdAt]);
    const human = await gpm(root, "recovery", "status");
    assert.match(human.stdout, /recovery mode: ON since .*\n\s+reason: site down after upgrade/);
  });

  it("status reports a flag the application wrote as text (exit 0)", async () => {
    const root = await site();
    await writeTree(root, { "system/recovery.flag": "PHP Fatal error: boom\n" });
    const st = await gpm(root, "recovery", "status", "--json");
    assert.equal(st.code, 0, st.stderr);
    assert.deepEqual([jsonDoc(st.stdout).recovery, jsonDoc(st.stdout).reason], [true, "unreadable flag"]);
  });

  it("clear refuses (exit 3) without a rollback since the flag or a passing health check; --force clears", async () => {
    const root = await site({ healthUrl: null });
    assert.equal((await gpm(root, "recovery", "enable", "--reason", "r")).code, 0);
    const refused = await gpm(root, "recovery", "clear");
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /no rollback since recovery mode was turned on/);
    await fsp.access(flagFile(root));
    const forced = await gpm(root, "recovery", "clear", "--force");
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /--force/);
    await assert.rejects(fsp.access(flagFile(root)));
    const again = await gpm(root, "recovery", "clear");
    assert.equal(again.code, 0);
    assert.match(again.stdout, /not on/);
  });

  it("clear succeeds after a rollback recorded since the flag was set", async () => {
    const root = await site({ healthUrl: null });
    await writeTree(root, { "system/recovery.flag": JSON.stringify({ reason: "r", createdAt: "2025-10-18T00:00:00.000Z", manifest: ID, quarantined: [] }) });
    const manifest = { id: ID, kind: "upgrade", from: "1.7.48", to: "1.8.0", createdAt: "2025-10-17T23:53:48.000Z", status: "swapped", swaps: [{ at: "2025-10-18T00:10:00.000Z", live: "1.7.48" }] };
    await writeTree(root, { [`snapshots/${ID}/manifest.json`]: JSON.stringify(manifest) });
    const res = await gpm(root, "recovery", "clear", "--json");
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.deepEqual([jsonDoc(res.stdout).because, jsonDoc(res.stdout).manifest], ["rollback", ID]);
    await assert.rejects(fsp.access(flagFile(root)));
  });

  it("clear succeeds when healthUrl answers 2xx", async () => {
    const srv = await serveDir(await tmpDir(), { "/health": { status: 204 } });
    try {
      const root = await site({ healthUrl: `${srv.url}/health` });
      assert.equal((await gpm(root, "recovery", "enable", "--reason", "r")).code, 0);
      const res = await gpm(root, "recovery", "clear");
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /health check of .* answered 204/);
      await assert.rejects(fsp.access(flagFile(root)));
    } finally {
      await srv.close();
    }
  });

  it("token prints a token that verifies, with its expiry; a bad --ttl is exit 2", async () => {
    const root = await site();
    const res = await gpm(root, "recovery", "token", "--ttl", "5m", "--json");
    assert.equal(res.code, 0, res.stderr);
    const { token, expiresAt } = jsonDoc(res.stdout);
    assert.equal(await verifyToken(await openInstallation({ root }), token), true);
    const left = Date.parse(expiresAt) - Date.now();
    assert.ok(left > 0 && left <= 5 * 60_000, String(left));
    assert.equal(((await fsp.stat(path.join(root, ".gpm", "recovery.key"))).mode & 0o777), 0o600);
    const human = await gpm(root, "recovery", "token");
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\nexpires at /);
    for (const bad of ["25h", "soon", "0"]) {
      const r = await gpm(root, "recovery", "token", "--ttl", bad);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--ttl/);
    }
  });

  it("serve --json prints one document with the URL, serves the page, and exits 0 on SIGTERM", async () => {
    const root = await site();
    await writeTree(root, { [`snapshots/${ID}/manifest.json`]: JSON.stringify({ id: ID, kind: "upgrade", from: "1.7.48", to: "1.8.0", createdAt: "2025-10-17T23:53:48.000Z", status: "finalized", swaps: [] }) });
    const s = await startServe(["--root", root, "recovery", "serve", "--json", "--port", "0"]);
    try {
      const doc = JSON.parse(s.first);
      assert.equal(doc.ok, true);
      assert.match(doc.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
      assert.equal(doc.host, "127.0.0.1");
      const page = await fetch(doc.url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), new RegExp(ID));
      assert.equal((await fetch(doc.url.replace(/\?token=.*/, ""))).status, 401);
    } finally {
      s.child.kill("SIGTERM");
    }
    assert.equal(await s.exited, 0);
    assert.equal(s.out().trim().split("\n").length, 1, "exactly one JSON document on stdout");
  });

  it("serve prints the URL for a person and stops on SIGINT with exit 0", async () => {
    const root = await site();
    const s = await startServe(["--root", root, "recovery", "serve"]);
    try {
      assert.match(s.first, /^recovery page: http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/);
    } finally {
      s.child.kill("SIGINT");
    }
    assert.equal(await s.exited, 0);
    assert.match(s.out(), /recovery page stopped/);
  });

  it("the whole story: a bad upgrade, recovery mode, rollback from the page, clear", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.7.48", { config: { healthUrl: null } });
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0" }]);
    const up = await runGpm(["self-upgrade", "--root", root, "--feed", feed, "--json"]);
    assert.equal(up.code, 0, up.stderr);
    const id: string = jsonDoc(up.stdout).manifest.id;
    assert.equal((await gpm(root, "recovery", "enable", "--reason", "500 on every page")).code, 0);
    assert.equal((await gpm(root, "recovery", "clear")).code, 3, "no rollback yet");

    const s = await startServe(["--root", root, "recovery", "serve", "--json"]);
    try {
      const { url, token } = JSON.parse(s.first) as { url: string; token: string };
      const html = await (await fetch(url)).text();
      assert.ok(html.includes(`name="manifest" value="${id}"`), "the upgrade is offered for rollback");
      // Through the confirmation, as a person would: its form carries the single-use nonce and the live version it expects.
      const confirm = await (await fetch(new URL(`/rollback/confirm?token=${encodeURIComponent(token)}&manifest=${id}`, url))).text();
      const res = await fetch(new URL("/rollback", url), { method: "POST", body: new URLSearchParams(formFields(confirm, "/rollback")) });
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assert.match(body, /version 1\.7\.48 is live/);
    } finally {
      s.child.kill("SIGTERM");
    }
    assert.equal(await s.exited, 0);
    assert.match(await fsp.readFile(path.join(root, "system/defines.php"), "utf8"), /'1\.7\.48'/);
    await assert.rejects(fsp.access(path.join(root, ".gpm", "lock")), "the page released the lock");
    // The flag lives inside the core entry system/, which the rollback swapped: it must still be there.
    await fsp.access(flagFile(root)).catch(() => assert.fail("the recovery flag did not survive the rollback (system/recovery.flag went into the snapshot with system/)"));
    const cleared = await gpm(root, "recovery", "clear", "--json");
    assert.equal(cleared.code, 0, cleared.stdout + cleared.stderr);
    assert.deepEqual([jsonDoc(cleared.stdout).because, jsonDoc(cleared.stdout).manifest], ["rollback", id]);
  });

  it("serve refuses a bad --port with exit 2", async () => {
    const root = await site();
    const r = await gpm(root, "recovery", "serve", "--port", "70000");
    assert.equal(r.code, 2, r.stderr);
  });
});
