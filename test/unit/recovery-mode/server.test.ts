import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, treeHash, writeTree } from "../../helpers/fixtures.js";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import { acquireLock } from "../../../lib/install/lock.js";
import { silentLogger } from "../../../lib/util/log.js";
import { startRecoveryServer, escapeHtml, MAX_BODY_BYTES, type RecoveryServer } from "../../../lib/recovery/server.js";
import { issueToken } from "../../../lib/recovery-mode/token.js";
import { writeRecoveryFlag, readRecoveryFlag } from "../../../lib/recovery-mode/flag.js";
import { sampleManifest, storeManifest, captureLog } from "./fixtures.js";

const ID = "20251017T235348Z-1.8.0";

describe("recovery page server", () => {
  let inst: Installation;
  let server: RecoveryServer;
  let token: string;
  let logged: string[];

  beforeEach(async () => {
    const root = await tmpDir();
    await makeSite(root, "1.8.0");
    inst = await openInstallation({ root });
    await storeManifest(inst, sampleManifest("20251001T100000Z-1.7.48", "1.7.47", "1.7.48", { createdAt: "2025-10-01T10:00:00.000Z" }));
    await storeManifest(inst, sampleManifest(ID, "1.7.48", "1.8.0"));
    await writeRecoveryFlag(inst, { reason: "fatal <b>bootstrap</b> error", createdAt: "2025-10-18T00:00:00.000Z", manifest: ID, quarantined: ["myplugin", "gone-plugin"] });
    token = (await issueToken(inst, 60_000)).token;
    const cap = captureLog();
    logged = cap.messages;
    server = await startRecoveryServer(inst, { host: "127.0.0.1", port: 0, log: cap.log });
  });
  afterEach(async () => {
    await server.close();
  });

  const get = (query = "", headers: Record<string, string> = {}): Promise<Response> => fetch(`${server.url}${query}`, { headers });
  const post = (route: string, fields: Record<string, string>, query = ""): Promise<Response> =>
    fetch(`${server.url.replace(/\/$/, "")}${route}${query}`, { method: "POST", body: new URLSearchParams(fields) });

  it("binds to the given host only and answers with no-store, DENY and a strict CSP", async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await get(`?token=${token}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.doesNotMatch(res.headers.get("content-security-policy") ?? "", /unsafe-inline|script-src/);
  });

  it("answers 401 without details when the token is missing, bad or expired", async () => {
    const expired = (await issueToken(inst, 1000, { now: Date.now() - 10_000 })).token;
    for (const q of ["", "?token=", "?token=abc.def", `?token=${token.slice(0, -2)}xx`, `?token=${expired}`]) {
      const res = await get(q);
      assert.equal(res.status, 401, q);
      const body = await res.text();
      assert.doesNotMatch(body, /1\.8\.0|fatal|myplugin/, "nothing about the installation leaks");
    }
  });

  it("lists manifests (newest first), the flag's reason (escaped) and the plugins, with a token from the header too", async () => {
    const res = await get("", { authorization: `Bearer ${token}` });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(html.indexOf(ID) < html.indexOf("20251001T100000Z-1.7.48"), "newest first");
    assert.match(html, /1\.7\.48 → 1\.8\.0/);
    assert.match(html, /finalized/);
    assert.ok(html.includes("fatal &lt;b&gt;bootstrap&lt;/b&gt; error"), "the reason is escaped");
    assert.ok(!html.includes("<b>bootstrap</b>"));
    assert.match(html, /myplugin/);
    assert.match(html, /quarantined/);
    assert.match(html, /gone-plugin/, "a quarantined plugin that is not installed is still shown");
    assert.match(html, /action="\/rollback"/);
    assert.match(html, /name="token" value="/);
  });

  it("answers 404 for an unknown path and 405 for a wrong method", async () => {
    assert.equal((await get(`nope?token=${token}`)).status, 404);
    assert.equal((await fetch(`${server.url}..%2f..%2fetc%2fpasswd?token=${token}`)).status, 404);
    const put = await fetch(`${server.url}?token=${token}`, { method: "PUT", body: "x" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET");
    const getRollback = await fetch(`${server.url}rollback?token=${token}`);
    assert.equal(getRollback.status, 405, "a link can never roll back");
    assert.equal(getRollback.headers.get("allow"), "POST");
  });

  it("needs the token in the POST body: none, a bad one, or one only in the query string or header is 401", async () => {
    const before = await treeHash(inst.root);
    assert.equal((await post("/plugins/disable", { plugin: "myplugin" })).status, 401);
    assert.equal((await post("/plugins/disable", { plugin: "myplugin", token: "x.y" })).status, 401);
    assert.equal((await post("/plugins/disable", { plugin: "myplugin" }, `?token=${token}`)).status, 401);
    const bearer = await fetch(`${server.url}plugins/disable`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: new URLSearchParams({ plugin: "myplugin" }) });
    assert.equal(bearer.status, 401);
    const json = await fetch(`${server.url}plugins/disable`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, plugin: "myplugin" }) });
    assert.equal(json.status, 401, "only a form body carries the token");
    assert.equal(await treeHash(inst.root), before, "nothing changed");
  });

  it("refuses an oversized body with 413", async () => {
    const res = await post("/plugins/disable", { token, plugin: "myplugin", pad: "x".repeat(MAX_BODY_BYTES) });
    assert.equal(res.status, 413);
  });

  it("answers 400 to a manifest id that is not an existing manifest, touching nothing (not even the lock)", async () => {
    // A manifest-shaped folder outside the store: a path-like id must never reach it.
    const outside = `${inst.root}-outside`;
    await writeTree(outside, { "manifest.json": JSON.stringify(sampleManifest("x", "1", "2")) });
    const before = [await treeHash(inst.root), await treeHash(outside)];
    for (const id of ["../../etc", `../../${path.basename(outside)}`, outside, "/etc", "nosuch-id", "", ".", "a/b"]) {
      const res = await post("/rollback", { token, manifest: id });
      assert.equal(res.status, 400, id);
    }
    assert.deepEqual([await treeHash(inst.root), await treeHash(outside)], before);
    assert.ok(!logged.some((m) => m.includes("rollback requested")));
  });

  it("passes a valid rollback request to rollback() under the lock, and releases the lock", async () => {
    const res = await post("/rollback", { token, manifest: ID });
    assert.ok(logged.some((m) => m.includes("rollback requested")), "rollback() was called");
    // rollback() itself decides the outcome (200 done, or 500 with its error); either way the lock is gone.
    assert.ok([200, 500].includes(res.status), String(res.status));
    await assert.rejects(fsp.access(inst.paths.lock));
  });

  it("disables and enables a plugin: writes user/config/plugins/<name>.yaml and the quarantine list", async () => {
    const res = await post("/plugins/disable", { token, plugin: "myplugin" });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /myplugin is disabled/);
    assert.equal(await fsp.readFile(path.join(inst.root, "user/config/plugins/myplugin.yaml"), "utf8"), "enabled: false\n");
    const page = await (await get(`?token=${token}`)).text();
    assert.match(page, /action="\/plugins\/enable"/);
    assert.equal((await post("/plugins/enable", { token, plugin: "myplugin" })).status, 200);
    assert.equal(await fsp.readFile(path.join(inst.root, "user/config/plugins/myplugin.yaml"), "utf8"), "enabled: true\n");
    assert.deepEqual((await readRecoveryFlag(inst))?.quarantined, ["gone-plugin"]);
    await assert.rejects(fsp.access(inst.paths.lock), "the lock is released after each action");
  });

  it("answers 400 to a plugin name that is a path or not installed", async () => {
    const before = await treeHash(inst.root);
    for (const name of ["../../../etc", "gone-plugin", "user/plugins/myplugin", ""]) {
      assert.equal((await post("/plugins/disable", { token, plugin: name })).status, 400, name);
    }
    assert.equal(await treeHash(inst.root), before);
  });

  it("answers 409 while another gpm holds the lock, changing nothing", async () => {
    const lock = await acquireLock(inst, "self-upgrade", silentLogger);
    try {
      const before = await treeHash(inst.root, { exclude: (r) => r === ".gpm/lock" });
      const res = await post("/plugins/disable", { token, plugin: "myplugin" });
      assert.equal(res.status, 409);
      assert.match(await res.text(), /another gpm is running/);
      assert.equal((await post("/rollback", { token, manifest: ID })).status, 409);
      assert.equal(await treeHash(inst.root, { exclude: (r) => r === ".gpm/lock" }), before);
      assert.ok(!logged.some((m) => m.includes("rollback requested")));
    } finally {
      await lock.release();
    }
  });

  it("escapes all five HTML specials", () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});
