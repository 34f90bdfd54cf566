/**
 * The recovery page as issue 12 wants it, over real HTTP on 127.0.0.1: only
 * the swaps that can work now, the live marker, single-use nonces and the
 * expected live version on every change (replays and stale forms are 409 and
 * change nothing), the session cookie, the expired-link page, clearing, the
 * public banner, and a quarantine that survives user/config coming back.
 * The same flows in a real browser: test/e2e/recovery-page.test.ts.
 */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, treeHash, writeTree } from "../../helpers/fixtures.js";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import { startRecoveryServer, type RecoveryServer } from "../../../lib/recovery-mode/server/index.js";
import { issueToken } from "../../../lib/recovery-mode/token.js";
import { writeRecoveryFlag, readRecoveryFlag } from "../../../lib/recovery-mode/flag.js";
import { reapplyQuarantine } from "../../../lib/recovery-mode/quarantine.js";
import { isLoopback } from "../../../lib/cli/commands/recovery.js";
import { sampleManifest, storeManifest, captureLog, formFields } from "./fixtures.js";

const OLD = "20251001T100000Z-1.7.48";
const ID = "20251017T235348Z-1.8.0";

describe("recovery page: only what can work, replays change nothing", () => {
  let inst: Installation;
  let server: RecoveryServer;
  let token: string;

  async function start(publicNote = false): Promise<void> {
    server = await startRecoveryServer(inst, { host: "127.0.0.1", port: 0, log: captureLog().log, public: publicNote });
  }

  beforeEach(async () => {
    const root = await tmpDir();
    await makeSite(root, "1.8.0", {
      extra: {
        "user/plugins/alpha/blueprints.yaml": "name: Alpha\nversion: 2.1.0\n",
        "user/plugins/zeta/blueprints.yaml": "name: Zeta\nversion: 0.9.3\n",
        "user/config/plugins/zeta.yaml": "enabled: false\n",
      },
    });
    inst = await openInstallation({ root });
    await storeManifest(inst, sampleManifest(OLD, "1.7.47", "1.7.48", { createdAt: "2025-10-01T10:00:00.000Z" }));
    await storeManifest(inst, sampleManifest(ID, "1.7.48", "1.8.0"));
    await writeTree(path.join(inst.paths.snapshots, ID), { "previous/index.php": "<?php // 1.7.48\n", "user/config/site.yaml": "title: then\n" });
    await writeRecoveryFlag(inst, { reason: "fatal error", createdAt: "2025-10-18T00:00:00.000Z", manifest: ID, quarantined: ["zeta"] });
    token = (await issueToken(inst, 60_000)).token;
    await start();
  });
  afterEach(async () => {
    await server.close();
  });

  const get = (rel: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${server.url}${rel}`, { headers });
  const post = (route: string, fields: Record<string, string>): Promise<Response> => fetch(`${server.url.replace(/\/$/, "")}${route}`, { method: "POST", body: new URLSearchParams(fields) });
  const overview = async (): Promise<string> => (await get(`?token=${token}`)).text();

  it("marks the live version and the snapshot it came from, and offers a swap only where it applies", async () => {
    const html = await overview();
    assert.match(html, /Live now: <span class="live">version 1\.8\.0<\/span> — this tree came from snapshot <code>20251017T235348Z-1\.8\.0<\/code>/);
    const rows = html.split("<tr").slice(1);
    const current = rows.find((r) => r.includes(ID))!;
    const old = rows.find((r) => r.includes(OLD))!;
    assert.match(current, /live tree came from here/);
    assert.match(current, /Roll back to 1\.7\.48 \(core only\)/);
    assert.match(current, /and user\//, "the snapshot holds user/: the separate, explained choice");
    assert.doesNotMatch(old, /<button/, "1.7.47 → 1.7.48 cannot be swapped while 1.8.0 is live");
    assert.match(old, /it swaps 1\.7\.47 and 1\.7\.48, and 1\.8\.0 is live/);
    assert.match(html, /<time datetime="2025-10-17T23:53:48\.000Z">[^<]*2025[^<]*<\/time> <small>\(2025-10-17T23:53:48\.000Z, /, "local time beside ISO");
  });

  it("lists plugins with versions and state, quarantined first", async () => {
    const html = await overview();
    assert.ok(html.indexOf("<code>zeta</code>") < html.indexOf("<code>alpha</code>"), "quarantined first");
    assert.match(html, /<code>zeta<\/code> <span class="q">quarantined<\/span><\/td><td>0\.9\.3<\/td><td>user\/plugins<\/td><td>disabled<\/td>/);
    assert.match(html, /<code>alpha<\/code><\/td><td>2\.1\.0<\/td><td>user\/plugins<\/td><td>enabled<\/td>/);
  });

  it("confirms before a rollback, saying what goes live and what stays; the confirmation itself changes nothing", async () => {
    const before = await treeHash(inst.root);
    const core = await (await get(`rollback/confirm?token=${token}&manifest=${ID}`)).text();
    assert.match(core, /Goes live:<\/strong> the 1\.7\.48 core/);
    assert.match(core, /Stays live:<\/strong> user\/ as it is now/);
    assert.match(core, /Quarantined plugins stay disabled/);
    assert.equal(formFields(core, "/rollback").expect, "1.8.0");
    assert.equal(formFields(core, "/rollback").user, undefined);
    const withUser = await (await get(`rollback/confirm?token=${token}&manifest=${ID}&user=1`)).text();
    assert.match(withUser, /user\/ is swapped too/);
    assert.equal(formFields(withUser, "/rollback").user, "1");
    const notNow = await get(`rollback/confirm?token=${token}&manifest=${OLD}`);
    assert.equal(notNow.status, 409);
    assert.match(await notNow.text(), /1\.8\.0 is live/);
    assert.equal((await get(`rollback/confirm?token=${token}&manifest=..%2F..%2Fetc`)).status, 400);
    assert.equal(await treeHash(inst.root), before);
  });

  it("spends each nonce once: a replayed, foreign or missing nonce is 409 and changes nothing", async () => {
    const html = await overview();
    const disable = formFields(html, "/plugins/disable", { plugin: "alpha" });
    assert.equal((await post("/plugins/disable", disable)).status, 200);
    const file = path.join(inst.root, "user/config/plugins/alpha.yaml");
    assert.equal(await fsp.readFile(file, "utf8"), "enabled: false\n");
    // Enable it again with a fresh form, then replay the first request.
    assert.equal((await post("/plugins/enable", formFields(await overview(), "/plugins/enable", { plugin: "alpha" }))).status, 200);
    const before = await treeHash(inst.root);
    const replay = await post("/plugins/disable", disable);
    assert.equal(replay.status, 409);
    assert.match(await replay.text(), /already used/);
    // A nonce issued for another plugin, or for another route, does not fit.
    const fresh = await overview();
    const zeta = formFields(fresh, "/plugins/enable", { plugin: "zeta" });
    assert.equal((await post("/plugins/disable", { ...zeta, plugin: "alpha" })).status, 409);
    assert.equal((await post("/plugins/disable", { ...formFields(fresh, "/plugins/disable", { plugin: "alpha" }), nonce: "" })).status, 409);
    assert.equal(await treeHash(inst.root), before, "nothing changed");
    assert.equal(await fsp.readFile(file, "utf8"), "enabled: true\n");
  });

  it("answers 409 to a form made for another live version, changing nothing", async () => {
    const confirm = await (await get(`rollback/confirm?token=${token}&manifest=${ID}`)).text();
    const before = await treeHash(inst.root);
    const stale = await post("/rollback", { ...formFields(confirm, "/rollback"), expect: "1.7.48" });
    assert.equal(stale.status, 409);
    assert.match(await stale.text(), /1\.8\.0 is live, the page expected 1\.7\.48/);
    assert.equal(await treeHash(inst.root), before);
  });

  it("keeps an accepted token as a strict session cookie that expires with it", async () => {
    const res = await get(`?token=${token}`);
    const set = res.headers.get("set-cookie") ?? "";
    assert.match(set, /^gpm_recovery=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=(\d+)$/);
    const maxAge = Number(/Max-Age=(\d+)/.exec(set)![1]);
    assert.ok(maxAge > 0 && maxAge <= 60, `Max-Age ${maxAge} is within the token's 60 s`);
    const cookie = set.split(";")[0]!;
    assert.equal((await get("", { cookie })).status, 200, "the cookie alone opens the page");
    const expired = (await issueToken(inst, 1000, { now: Date.now() - 10_000 })).token;
    assert.equal((await get("", { cookie: `gpm_recovery=${expired}` })).status, 401);
    // A cookie is never enough for a change.
    const fields = formFields(await overview(), "/plugins/disable", { plugin: "alpha" });
    const noToken = await fetch(`${server.url}plugins/disable`, { method: "POST", headers: { cookie }, body: new URLSearchParams({ ...fields, token: "" }) });
    assert.equal(noToken.status, 401);
  });

  it("says how to get a new link when the token has expired", async () => {
    const expired = (await issueToken(inst, 1000, { now: Date.now() - 10_000 })).token;
    const res = await get(`?token=${expired}`);
    assert.equal(res.status, 401);
    assert.match(await res.text(), /has expired or is not valid[\s\S]*<code>gpm recovery token<\/code>/);
  });

  it("clears recovery mode from the page only when SPEC allows it", async () => {
    let html = await overview();
    assert.doesNotMatch(html, /action="\/recovery\/clear"/, "no rollback since the flag and no healthUrl: no clear button");
    assert.match(html, /cannot be cleared from here yet/);
    const m = sampleManifest(ID, "1.7.48", "1.8.0", { swaps: [{ at: "2025-10-18T01:00:00.000Z", live: "1.8.0" }] });
    await storeManifest(inst, m);
    html = await overview();
    const clear = formFields(html, "/recovery/clear");
    const res = await post("/recovery/clear", clear);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Recovery mode is off/);
    assert.equal(await readRecoveryFlag(inst), null);
    assert.equal((await post("/recovery/clear", clear)).status, 409, "the same form again");
  });

  it("warns on every page when it listens beyond loopback (--public)", async () => {
    assert.doesNotMatch(await overview(), /reachable from the network/);
    await server.close();
    await start(true);
    assert.match(await overview(), /This page is reachable from the network/);
  });

  it("keeps a quarantined plugin disabled when user/config comes back enabled", async () => {
    await writeTree(inst.root, { "user/config/plugins/zeta.yaml": "enabled: true\n" });
    assert.deepEqual(await reapplyQuarantine(inst), ["zeta"]);
    assert.equal(await fsp.readFile(path.join(inst.root, "user/config/plugins/zeta.yaml"), "utf8"), "enabled: false\n");
    assert.deepEqual((await readRecoveryFlag(inst))?.quarantined, ["zeta"]);
    assert.deepEqual(await reapplyQuarantine(inst), [], "nothing to do the second time");
  });

  it("knows loopback addresses (anything else needs --public)", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) assert.equal(isLoopback(h), true, h);
    for (const h of ["0.0.0.0", "::", "192.168.1.5", "example.org", "128.0.0.1"]) assert.equal(isLoopback(h), false, h);
  });
});
