import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fsp from "node:fs/promises";
import path from "node:path";
import { GPM_BIN, REPO, makeFeed, makeSite, notGpmState, releaseTree, serveDir, tmpDir, treeHash, type Server } from "../helpers/fixtures.js";

/**
 * fleet/upgrade.yml with Debian's ansible-core against three local sites
 * (`ansible_connection: local`, each host a site root in a temp folder) and a
 * loopback feed; site-b is offered a release that fails its smoke check.
 */

const PLAYBOOK = path.join(REPO, "fleet", "upgrade.yml");
const SITES = ["site-a", "site-b", "site-c"] as const;

function hasAnsible(): boolean {
  try {
    execFileSync("ansible-playbook", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

interface Recap {
  ok: number;
  changed: number;
  failed: number;
}

describe("e2e: fleet/upgrade.yml (ansible-core)", function () {
  this.timeout(600_000);
  let base: string;
  let server: Server;
  let inventory: string;
  const root = (site: string): string => path.join(base, site);

  before(function () {
    if (!hasAnsible()) {
      console.log("      skipped: ansible-playbook is not installed (.ci/run installs ansible-core)");
      this.skip();
    }
  });
  beforeEach(async () => {
    base = await tmpDir("gpm-fleet-");
    await makeFeed(path.join(base, "feed", "good"), [{ version: "1.7.48" }, { version: "1.8.0" }]);
    await makeFeed(path.join(base, "feed", "bad"), [{ version: "1.7.48" }, { version: "1.8.0", tree: releaseTree("1.8.0", { smokeExit: 1 }) }]);
    server = await serveDir(path.join(base, "feed"));
    for (const site of SITES) {
      const feed = `${server.url}/${site === "site-b" ? "bad" : "good"}/releases.json`;
      await makeSite(root(site), "1.7.48", { config: { feed } });
    }
    // JSON is YAML: an inventory with a list-valued variable, written without a YAML library.
    inventory = path.join(base, "inventory.yml");
    const hosts = Object.fromEntries(SITES.map((s) => [s, { gpm_root: root(s) }]));
    await fsp.writeFile(
      inventory,
      JSON.stringify({
        gpm_sites: {
          hosts,
          vars: { ansible_connection: "local", ansible_python_interpreter: "auto_silent", gpm_command: [process.execPath, GPM_BIN] },
        },
      }),
    );
  });
  afterEach(async () => server.close());

  /** ansible-playbook with every ANSIBLE_* location inside the test's folder. */
  function playbook(...args: string[]): Promise<{ code: number | null; out: string; recap: Record<string, Recap> }> {
    const home = path.join(base, "ansible-home");
    const env = {
      ...process.env,
      HOME: home,
      ANSIBLE_HOME: home,
      ANSIBLE_LOCAL_TEMP: path.join(home, "tmp"),
      ANSIBLE_REMOTE_TEMP: path.join(home, "remote-tmp"),
      ANSIBLE_RETRY_FILES_ENABLED: "false",
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_FORCE_COLOR: "0",
      ANSIBLE_HOST_KEY_CHECKING: "false",
      ANSIBLE_CONFIG: path.join(home, "none.cfg"),
      GPM_ROOT: undefined,
    } as NodeJS.ProcessEnv;
    return new Promise((resolve, reject) => {
      const child = spawn("ansible-playbook", ["-i", inventory, PLAYBOOK, ...args], { env, cwd: base, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), 540_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        const recap: Record<string, Recap> = {};
        for (const m of out.matchAll(/^(site-[abc])\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/gm)) {
          recap[m[1]!] = { ok: Number(m[2]), changed: Number(m[3]), failed: Number(m[4]) };
        }
        resolve({ code, out, recap });
      });
    });
  }
  const installed = async (site: string): Promise<string> => /GRAV_VERSION', '([^']+)'/.exec(await fsp.readFile(path.join(root(site), "system/defines.php"), "utf8"))![1]!;

  it("check mode runs gpm self-upgrade --check: nothing changes, every site reports it would", async () => {
    const before = await Promise.all(SITES.map((s) => treeHash(root(s), { exclude: notGpmState })));
    const r = await playbook("--check");
    assert.equal(r.code, 0, r.out);
    for (const s of SITES) assert.deepEqual(r.recap[s] && { changed: r.recap[s].changed, failed: r.recap[s].failed }, { changed: 1, failed: 0 }, `${s}\n${r.out}`);
    assert.match(r.out, /installed 1\.7\.48, available 1\.8\.0 \(update available\)/);
    assert.deepEqual(await Promise.all(SITES.map((s) => treeHash(root(s), { exclude: notGpmState }))), before, "nothing changed");
  });

  it("canary first, one host a batch, any failure stops the run: site-b is restored and reported, site-c is not touched", async () => {
    const bBefore = await treeHash(root("site-b"), { exclude: notGpmState });
    const cBefore = await treeHash(root("site-c"), { exclude: notGpmState });
    const r = await playbook("-e", JSON.stringify({ gpm_serial: [1, 1, 1], gpm_max_fail_percentage: 0 }));
    assert.notEqual(r.code, 0, r.out);
    assert.equal(await installed("site-a"), "1.8.0", "the canary upgraded");
    assert.equal(r.recap["site-a"]?.changed, 1, r.out);
    assert.equal(r.recap["site-b"]?.failed, 1, r.out);
    assert.match(r.out, /site-b \(.*\): self-upgrade exit 4: .*the release failed its smoke check and gpm restored the old tree/);
    assert.equal(await treeHash(root("site-b"), { exclude: notGpmState }), bBefore, "site-b restored byte for byte");
    assert.equal(r.recap["site-c"], undefined, "site-c was never reached");
    assert.equal(await treeHash(root("site-c"), { exclude: notGpmState }), cBefore);

    // A second run: the canary is already there — gpm says changed: false.
    const again = await playbook("--limit", "site-a");
    assert.equal(again.code, 0, again.out);
    assert.equal(again.recap["site-a"]?.changed, 0, again.out);
    assert.match(again.out, /1\.8\.0 already installed, nothing to do/);
  });

  it("with max_fail_percentage 50 a batch of two goes on past one failure", async () => {
    const r = await playbook("-e", JSON.stringify({ gpm_serial: [1, 2], gpm_max_fail_percentage: 50 }));
    assert.notEqual(r.code, 0, r.out);
    assert.equal(await installed("site-a"), "1.8.0");
    assert.equal(await installed("site-b"), "1.7.48");
    assert.equal(await installed("site-c"), "1.8.0");
    assert.deepEqual([r.recap["site-b"]?.failed, r.recap["site-c"]?.changed], [1, 1], r.out);
  });
});
