import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { GPM_BIN, releaseTree, runGpm, serveDir, tmpDir, treeHash, writeTree, type RunResult } from "../helpers/fixtures.js";
import { jsonDoc } from "../helpers/json.js";
import { buildSites, cloneSite, type SiteFixture } from "../helpers/sites.js";

const execFileP = promisify(execFile);
const ESC = String.fromCharCode(27);

/**
 * Issue 13 item 3, the human interface, through the real CLI: suggestions for
 * mistyped words, help, the snapshots table, what a dry run would do, verify
 * on any tree gpm put live, color only on a terminal, the downgrade rule in
 * preflight, one line outside an installation, and the JSON documents of
 * usage errors, a repeated upgrade and --check.
 */
describe("e2e: the command line (issue 13 item 3)", function () {
  let fx: SiteFixture;
  before(async () => {
    fx = await buildSites({
      prefix: "gpm-cli-",
      upgraded: true,
      releases: [
        { version: "1.8.0" },
        // 1.9.0 ships a new top-level folder and drops CHANGELOG.md.
        { version: "1.9.0", tree: releaseTree("1.9.0", { extra: { "lib/new.php": "<?php // new in 1.9.0\n" }, drop: ["CHANGELOG.md"] }) },
        { version: "1.7.0" },
      ],
    });
  });
  const on = (root: string) => (...args: string[]): Promise<RunResult> => runGpm([...args, "--root", root, "--feed", fx.feed]);

  describe("suggestions", () => {
    it("an unknown option suggests the closest option of that command, never another command's", async () => {
      const root = await cloneSite(fx.T0);
      const gpm = on(root);
      let r = await gpm("self-upgrade", "--dryrun");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: unknown option --dryrun for gpm self-upgrade \(did you mean --dry-run\?\) — see `gpm self-upgrade --help`$/m);
      r = await gpm("rollback", "--with-usr");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /did you mean --with-user\?/);
      r = await gpm("status", "--roott", root);
      assert.match(r.stderr, /unknown option --roott for gpm status \(did you mean --root\?\)/, "global options count");
      r = await gpm("status", "--dry-run");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown option --dry-run for gpm status/);
      assert.doesNotMatch(r.stderr, /did you mean/, "status has no --dry-run: self-upgrade's is not offered");
      r = await gpm("recovery", "tokn");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown recovery action "tokn" \(did you mean token\?\)/);
    });

    it("an unknown config key names the closest known key, at the top level and inside an object", async () => {
      const root = await cloneSite(fx.T0);
      const config = path.join(root, "gpm.json");
      const good = JSON.parse(await fsp.readFile(config, "utf8")) as Record<string, unknown>;
      await fsp.writeFile(config, JSON.stringify({ ...good, keeep: 2 }));
      let r = await on(root)("status");
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: gpm\.json: keeep: unknown key \(did you mean "keep"\?\)/m);
      await fsp.writeFile(config, JSON.stringify({ ...good, limits: { maxFile: 10 } }));
      r = await on(root)("status");
      assert.equal(r.code, 1);
      assert.match(r.stderr, /gpm\.json: limits\.maxFile: unknown key \(did you mean "maxFiles"\?\)/);
    });

    it("a usage error with --json is one document: command null, exit 2, the suggestion in the message", async () => {
      const r = await runGpm(["statsu", "--json"]);
      assert.equal(r.code, 2);
      const doc = jsonDoc(r.stdout);
      assert.equal(doc.command, null);
      assert.equal(doc.exitCode, 2);
      assert.equal(doc.ok, false);
      assert.equal(doc.apiVersion, "gpm/1");
      assert.match(doc.error.message, /unknown command "statsu" \(did you mean status\?\)/);
      assert.match(r.stderr, /did you mean status\?/);
    });
  });

  it("-h prints help with examples and exit codes (exit 0), for gpm and for a command", async () => {
    let r = await runGpm(["-h"]);
    assert.equal(r.code, 0, r.stderr);
    for (const c of ["self-upgrade", "rollback", "snapshots", "verify", "preflight", "recovery"]) assert.match(r.stdout, new RegExp(`gpm ${c}`));
    assert.match(r.stdout.replace(/\s+/g, " "), /Exit codes: 0 ok, 1 error, 2 usage, .* 8 committed but not finished .* 130\/143 interrupted/);
    r = await runGpm(["rollback", "-h"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--with-user/);
    assert.match(r.stdout, /Examples:[\s\S]*gpm rollback 20251018T101500Z-1\.8\.0/);
    assert.match(r.stdout.replace(/\s+/g, " "), /Exit codes: 0 success; 1 error .*; 5 another gpm holds the lock; 7 .*130\/143 interrupted \(docs\/CLI\.md\)/);
    assert.equal(r.stderr, "");
  });

  it("snapshots: a header row, the * marking the snapshot the live tree came from", async () => {
    const r = await on(fx.T1)("snapshots");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^ {2}ID +KIND +FROM → TO +DATE +STATUS +SIZE {2}PINNED$/);
    assert.equal(lines[0]!.indexOf("KIND"), lines[1]!.indexOf("upgrade"), "the header is over its column");
    assert.match(lines[1]!, /^\* \S+-1\.8\.0 +upgrade +1\.7\.48 → 1\.8\.0 +\S+ +finalized +\d+\.\d MB$/);
    assert.match(lines.at(-1)!, /^\* the live tree came from \S+-1\.8\.0$/);
    assert.doesNotMatch(r.stdout, new RegExp(ESC), "no color into a pipe");
  });

  it("self-upgrade --dry-run lists what would be added, replaced and removed per top-level entry, and changes nothing", async () => {
    const root = await cloneSite(fx.T1);
    const before = await treeHash(root);
    const gpm = on(root);
    let r = await gpm("self-upgrade", "--version", "1.9.0", "--dry-run", "--json");
    assert.equal(r.code, 0, r.stderr);
    const d = jsonDoc(r.stdout);
    assert.equal(d.changed, false);
    assert.deepEqual(d.changes, { added: ["lib"], replaced: ["bin", "composer.json", "index.php", "system", "vendor"], removed: ["CHANGELOG.md"] });
    assert.deepEqual(d.core, ["CHANGELOG.md", "bin", "composer.json", "index.php", "lib", "system", "vendor"]);
    r = await gpm("self-upgrade", "--version", "1.9.0", "--dry-run");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^would add {6}lib$/m);
    assert.match(r.stdout, /^would replace {2}system$/m);
    assert.match(r.stdout, /^would remove {3}CHANGELOG\.md$/m);
    assert.match(r.stdout, /1 entries added, 5 replaced, 1 removed\) and discarded; nothing changed/);
    assert.equal(await treeHash(root), before);
  });

  it("verify works on whatever tree gpm put live: after an upgrade, a rollback and a redo", async () => {
    const root = await cloneSite(fx.T1);
    const gpm = on(root);
    const verify = async (): Promise<Record<string, any>> /* eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test */ => {
      const r = await gpm("verify", "--json");
      return jsonDoc(r.stdout);
    };
    let v = await verify();
    assert.deepEqual([v.ok, v.version, v.side, v.drift], [true, "1.8.0", "package", []]);
    const id = v.id as string;

    let r = await gpm("rollback");
    assert.equal(r.code, 0, r.stderr);
    v = await verify();
    assert.deepEqual([v.ok, v.id, v.version, v.side, v.recordFrom, v.drift], [true, id, "1.7.48", "previous", id, []], JSON.stringify(v));
    assert.ok(v.checked > 5);
    r = await gpm("verify");
    assert.match(r.stdout, new RegExp(`^${v.checked} core files match ${id} \\(1\\.7\\.48, the tree it rolled back to\\)$`, "m"));

    // Drift on the rolled-back tree is found, and survives a redo and a second rollback (the record is written once).
    await fsp.appendFile(path.join(root, "system/src/Grav.php"), "// edited under 1.7.48\n");
    v = await verify();
    assert.equal(v.exitCode, 1);
    assert.deepEqual(v.drift, [{ path: "system/src/Grav.php", kind: "modified" }]);

    r = await gpm("rollback", id);
    assert.equal(r.code, 0, r.stderr);
    v = await verify();
    assert.deepEqual([v.ok, v.version, v.side, v.drift], [true, "1.8.0", "package", []], "after the redo: the package's hashes");

    r = await gpm("rollback", id);
    assert.equal(r.code, 0, r.stderr);
    v = await verify();
    assert.deepEqual([v.version, v.side, v.drift], ["1.7.48", "previous", [{ path: "system/src/Grav.php", kind: "modified" }]]);
  });

  it("verify on a rollback made without a record of previous/ uses the package of the live version, else says why (exit 1)", async () => {
    const root = await cloneSite(fx.T1);
    const gpm = on(root);
    assert.equal((await gpm("rollback")).code, 0);
    const [id] = (await fsp.readdir(path.join(root, "snapshots"))).filter((n) => n.endsWith("-1.8.0"));
    await fsp.rm(path.join(root, "snapshots", id!, "previous-files.json"));
    const r = await gpm("verify");
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: nothing to verify 1\\.7\\.48 against: snapshot ${id} holds no record of the 1\\.7\\.48 tree it rolled back to`, "m"));
    assert.equal(r.stderr.trim().split("\n").length, 1);
  });

  it("color only on a terminal, and never with NO_COLOR", async function () {
    try {
      await execFileP("script", ["--version"]);
    } catch {
      console.log("      skipped: no `script` (util-linux) to give gpm a terminal");
      this.skip();
    }
    const root = await cloneSite(fx.T0);
    const args = ["preflight", "1.8.0", "--root", root, "--feed", fx.feed];
    const onTty = async (env: Record<string, string | undefined>): Promise<string> => {
      const cmd = [process.execPath, GPM_BIN, ...args].map((a) => `'${a}'`).join(" ");
      const r = await execFileP("script", ["-qec", cmd, "/dev/null"], { env: { ...process.env, TERM: "xterm", NO_COLOR: undefined, ...env } }).catch((e: { stdout: string }) => e);
      return r.stdout;
    };
    const tty = await onTty({});
    assert.match(tty, new RegExp(`${ESC}\\[32mpass`), "pass is green on a terminal");
    const noColor = await onTty({ NO_COLOR: "1" });
    assert.match(noColor, /pass {2}/);
    assert.doesNotMatch(noColor, new RegExp(`${ESC}\\[3[0-9]m`), "NO_COLOR: no color codes");
    const piped = await runGpm(args);
    assert.match(piped.stdout, /^pass {2}/m);
    assert.doesNotMatch(piped.stdout + piped.stderr, new RegExp(ESC), "not a terminal: no color codes");
  });

  it("preflight of an older version fails version-policy (exit 3) unless --allow-downgrade", async () => {
    const root = await cloneSite(fx.T0);
    const gpm = on(root);
    let r = await gpm("preflight", "1.7.0", "--json");
    assert.equal(r.code, 3, r.stderr);
    let d = jsonDoc(r.stdout);
    assert.equal(d.passed, false);
    assert.deepEqual(d.checks[0], { id: "version-policy", status: "fail", message: "1.7.0 is older than the installed 1.7.48", fix: "pass --allow-downgrade to install an older release" });
    r = await gpm("preflight", "1.7.0");
    assert.match(r.stdout, /^fail {2}version-policy +1\.7\.0 is older than the installed 1\.7\.48\n {6}fix: pass --allow-downgrade/m);
    r = await gpm("preflight", "1.7.0", "--allow-downgrade", "--json");
    d = jsonDoc(r.stdout);
    assert.equal(d.checks[0].id, "version-policy");
    assert.equal(d.checks[0].status, "warn");
    assert.equal(r.code, d.checks.some((c: { status: string }) => c.status === "fail") ? 3 : 0);
    // The same rule, worded the same, refuses self-upgrade.
    r = await gpm("self-upgrade", "--version", "1.7.0");
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^error: 1\.7\.0 is older than the installed 1\.7\.48 — pass --allow-downgrade to install an older release$/m);
    r = await gpm("preflight", "1.8.0", "--json");
    assert.deepEqual(jsonDoc(r.stdout).checks[0], { id: "version-policy", status: "pass", message: "1.7.48 → 1.8.0 is an upgrade", fix: null });
  });

  it("status and preflight in a folder that is not an installation: one line, exit 1, nothing written", async () => {
    const empty = await tmpDir();
    await writeTree(empty, { "notes.txt": "not a site\n" });
    const before = await treeHash(empty);
    for (const cmd of [["status"], ["preflight"]]) {
      const r = await runGpm([...cmd, "--root", empty, "--feed", fx.feed]);
      assert.equal(r.code, 1, `${cmd[0]}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.deepEqual(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^error: \S+ is not an installation: no \.gpm\/metadata\.json and no version in system\/defines\.php — /);
      const j = await runGpm([...cmd, "--root", empty, "--feed", fx.feed, "--json"]);
      assert.equal(j.code, 1);
      assert.match(jsonDoc(j.stdout).error.message, /is not an installation/);
    }
    assert.equal(await treeHash(empty), before);
  });

  it("--check --json says updateAvailable; a second identical self-upgrade --json is changed: false and downloads nothing", async () => {
    const root = await cloneSite(fx.T1);
    const server = await serveDir(path.dirname(fx.feed));
    try {
      const gpm = (...args: string[]): Promise<RunResult> => runGpm([...args, "--root", root, "--feed", `${server.url}/releases.json`]);
      let r = await gpm("self-upgrade", "--check", "--json");
      assert.equal(r.code, 0, r.stderr);
      let d = jsonDoc(r.stdout);
      assert.deepEqual([d.action, d.installed, d.latest, d.updateAvailable], ["check", "1.8.0", "1.9.0", true]);
      r = await gpm("self-upgrade", "--version", "1.9.0", "--json");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(jsonDoc(r.stdout).changed, true);
      r = await gpm("self-upgrade", "--check", "--json");
      d = jsonDoc(r.stdout);
      assert.deepEqual([d.installed, d.latest, d.updateAvailable], ["1.9.0", "1.9.0", false]);

      const snapshots = (await fsp.readdir(path.join(root, "snapshots"))).sort();
      server.requests.length = 0;
      const t0 = performance.now();
      r = await gpm("self-upgrade", "--version", "1.9.0", "--json");
      const ms = performance.now() - t0;
      assert.equal(r.code, 0, r.stderr);
      d = jsonDoc(r.stdout);
      assert.deepEqual([d.action, d.changed, d.installed], ["up-to-date", false, "1.9.0"]);
      assert.deepEqual(server.requests, ["/releases.json"], "only the feed was read: no package downloaded");
      assert.deepEqual((await fsp.readdir(path.join(root, "snapshots"))).sort(), snapshots, "no snapshot made");
      assert.ok(ms < 10_000, `${Math.round(ms)} ms`);
    } finally {
      await server.close();
    }
  });
});
