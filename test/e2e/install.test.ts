import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fsp from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { REPO, makeSite, tmpDir } from "../helpers/fixtures.js";

/**
 * install.sh (SPEC section 9) on two packed releases of this repository:
 * `npm pack` of the checkout, and the same package with its version bumped.
 */

const run = promisify(execFile);
const INSTALL = path.join(REPO, "install.sh");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, GPM_ROOT: undefined, ...env } as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("e2e: install.sh", function () {
  this.timeout(300_000);
  let packs: string;
  let current: string;
  let bumped: string;
  let v: string;
  let vNext: string;
  let tmp: string;

  before(async () => {
    packs = await tmpDir("gpm-packs-");
    // --ignore-scripts: dist/ is already built; `prepare` would rebuild it.
    const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", packs], { cwd: REPO });
    current = path.join(packs, stdout.trim().split("\n").pop()!);
    v = (JSON.parse(await fsp.readFile(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;
    const [maj, min, pat] = v.split(".").map(Number) as [number, number, number];
    vNext = `${maj}.${min}.${pat + 1}`;
    const copy = path.join(packs, "copy");
    await fsp.mkdir(copy);
    await run("tar", ["-xzf", current, "-C", copy]);
    const pj = path.join(copy, "package", "package.json");
    await fsp.writeFile(pj, (await fsp.readFile(pj, "utf8")).replace(`"version": "${v}"`, `"version": "${vNext}"`));
    bumped = path.join(packs, `gpm-${vNext}.tgz`);
    await run("tar", ["-czf", bumped, "-C", copy, "package"]);
  });
  beforeEach(async () => {
    tmp = await tmpDir("gpm-install-tmp-");
  });

  const install = (prefix: string, ...args: string[]): Promise<Result> => sh("sh", [INSTALL, "--prefix", prefix, ...args], { TMPDIR: tmp });
  const version = async (prefix: string): Promise<string> => {
    const r = await sh(path.join(prefix, "bin", "gpm"), ["version", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { gpm: string }).gpm;
  };
  const backups = async (prefix: string): Promise<string[]> => (await fsp.readdir(path.join(prefix, "lib"))).filter((n) => n.startsWith("gpm.backup-"));
  /** No temp file left: the temp dir is empty and nothing is staged beside the live copy. */
  const noTemp = async (prefix: string): Promise<void> => {
    assert.deepEqual(await fsp.readdir(tmp), [], "temp dir emptied");
    assert.deepEqual((await fsp.readdir(path.join(prefix, "lib"))).filter((n) => !n.startsWith("gpm")), [], "nothing staged left in lib/");
    assert.deepEqual((await fsp.readdir(path.join(prefix, "bin"))), ["gpm"]);
  };

  it("fresh install from a tarball: bin/gpm runs without dev dependencies", async () => {
    const prefix = path.join(await tmpDir(), "prefix");
    const r = await install(prefix, "--from", current);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`installed gpm ${v.replace(/\./g, "\\.")}`));
    assert.equal(await version(prefix), v);
    await noTemp(prefix);
    const live = path.join(prefix, "lib", "gpm");
    for (const dev of ["typescript", "mocha", "eslint", "archiver"]) await assert.rejects(fsp.stat(path.join(live, "node_modules", dev)), `${dev} not installed`);
    await assert.rejects(fsp.stat(path.join(live, "dist", "test")), "tests are not shipped");
    // A command that loads the config schema (zod), the logger (pino) and yargs.
    const site = path.join(await tmpDir(), "site");
    await makeSite(site, "1.7.48");
    const s = await sh(path.join(prefix, "bin", "gpm"), ["status", "--root", site]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /1\.7\.48/);
  });

  it("fresh install from a folder (a built checkout) is the same package", async () => {
    const prefix = path.join(await tmpDir(), "prefix");
    const r = await install(prefix, "--from", REPO);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await version(prefix), v);
    await noTemp(prefix);
  });

  it("same version: skipped; newer: replaces with a backup; older: refused; --force: downgrades", async () => {
    const prefix = path.join(await tmpDir(), "prefix");
    assert.equal((await install(prefix, "--from", current)).code, 0);

    let r = await install(prefix, "--from", current);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /already installed.*nothing to do/);
    assert.deepEqual(await backups(prefix), []);

    r = await install(prefix, "--from", bumped);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`upgraded gpm ${v.replace(/\./g, "\\.")} → ${vNext.replace(/\./g, "\\.")}`));
    assert.equal(await version(prefix), vNext);
    const [backup] = await backups(prefix);
    assert.match(backup ?? "", /^gpm\.backup-\d{8}T\d{6}Z/);
    const old = JSON.parse(await fsp.readFile(path.join(prefix, "lib", backup!, "package.json"), "utf8")) as { version: string };
    assert.equal(old.version, v, "the backup is the previous copy");
    await noTemp(prefix);

    r = await install(prefix, "--from", current);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`refused: ${v.replace(/\./g, "\\.")} is older than the installed gpm ${vNext.replace(/\./g, "\\.")} — pass --force`));
    assert.equal(await version(prefix), vNext);
    assert.equal((await backups(prefix)).length, 1);
    await noTemp(prefix);

    r = await install(prefix, "--from", current, "--force");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: --force: downgrading/);
    assert.equal(await version(prefix), v);
    assert.equal((await backups(prefix)).length, 2);
    await noTemp(prefix);
  });

  it("a broken tarball, or one whose gpm does not run, leaves the old gpm working", async () => {
    const prefix = path.join(await tmpDir(), "prefix");
    assert.equal((await install(prefix, "--from", current)).code, 0);
    const launcher = await fsp.readFile(path.join(prefix, "bin", "gpm"));

    const truncated = path.join(packs, "truncated.tgz");
    const bytes = await fsp.readFile(bumped);
    await fsp.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    let r = await install(prefix, "--from", truncated);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /truncated\.tgz is not a readable gpm tarball .*nothing was changed/);
    assert.equal(await version(prefix), v);
    assert.deepEqual(await fsp.readFile(path.join(prefix, "bin", "gpm")), launcher);
    await noTemp(prefix);

    // Unpacks fine, but its CLI throws at start.
    const dir = path.join(packs, "crashing");
    await fsp.mkdir(dir, { recursive: true });
    await run("tar", ["-xzf", bumped, "-C", dir]);
    await fsp.writeFile(path.join(dir, "package", "dist", "bundle", "gpm", "main.js"), "throw new Error('broken release');\n");
    const crashing = path.join(packs, "crashing.tgz");
    await run("tar", ["-czf", crashing, "-C", dir, "package"]);
    r = await install(prefix, "--from", crashing);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /does not run \(gpm version failed\) — nothing was changed/);
    assert.equal(await version(prefix), v);
    assert.deepEqual(await backups(prefix), []);
    await noTemp(prefix);

    r = await install(prefix, "--from", path.join(packs, "no-such.tgz"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no-such\.tgz does not exist/);
    assert.equal((await install(prefix, "--bogus")).code, 2);
  });

  it("with GPM_ROOT set, runs gpm migrate-installation --yes there; its failure is reported, the new gpm stays", async () => {
    const prefix = path.join(await tmpDir(), "prefix");
    const site = path.join(await tmpDir(), "site");
    await makeSite(site, "1.7.48");
    let r = await sh("sh", [INSTALL, "--prefix", prefix, "--from", current], { TMPDIR: tmp, GPM_ROOT: site });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /gpm migrate-installation --yes for GPM_ROOT=/);
    // An unmanaged site: adopted (metadata written), or told there is nothing to migrate.
    const adopted = await fsp.stat(path.join(site, ".gpm", "metadata.json")).then(() => true, () => false);
    assert.ok(adopted || /nothing to migrate/.test(r.stdout + r.stderr), r.stdout + r.stderr);

    r = await sh("sh", [INSTALL, "--prefix", prefix, "--from", bumped], { TMPDIR: tmp, GPM_ROOT: path.join(site, "no-such-folder") });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /gpm migrate-installation failed \(exit 1\) for .*no-such-folder; gpm .* stays installed/);
    assert.equal(await version(prefix), vNext);
  });
});
