import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import yauzl from "yauzl";
import { tmpDir, makeSite, makeFeed, runGpm, type TreeSpec } from "../helpers/fixtures.js";
import { phpSiteTree } from "../helpers/php-site.js";
import { startPhpFpm, startNginx, startApache, giveToWebUser, get, GUARD, type Running } from "../helpers/web-servers.js";

/**
 * Issue 11 item 3: gpm with real web servers — Debian's apache2 and nginx in
 * front of php-fpm, on 127.0.0.1, configs and logs in the test's temp folder.
 * (a) With Grav 1.7.48's stock .htaccess (from the real release) plus gpm's
 *     files, nothing under snapshots/ or .gpm/ is served, the pages are.
 * (b) Under a bounded request loop during a self-upgrade and a rollback of a
 *     few-thousand-file site, every response is wholly old, wholly new, or
 *     503: zero torn. The counts are printed (and appended to
 *     $GPM_WEB_FIGURES when set).
 */

const REAL_GRAV = "/work/shared/fixtures/real/grav/grav-update-1.7.48.zip";
const realZip = process.env.GPM_REAL_FIXTURES ? path.join(process.env.GPM_REAL_FIXTURES, "grav/grav-update-1.7.48.zip") : REAL_GRAV;

/** One entry of a zip, read with yauzl. */
function zipEntry(zip: string, name: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    yauzl.open(zip, { lazyEntries: true }, (err, z) => {
      if (err || !z) return reject(err ?? new Error("cannot open zip"));
      z.on("entry", (e: yauzl.Entry) => {
        if (e.fileName !== name) return z.readEntry();
        z.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2 ?? new Error("cannot read entry"));
          const parts: Buffer[] = [];
          s.on("data", (d: Buffer) => parts.push(d));
          s.on("end", () => (z.close(), resolve(Buffer.concat(parts))));
        });
      });
      z.on("end", () => reject(new Error(`${name} is not in ${zip}`)));
      z.readEntry();
    });
  });
}

async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(path.relative(base, p) + (e.isDirectory() ? "/" : ""));
    if (e.isDirectory()) out.push(...(await walk(p, base)));
  }
  return out;
}

const enc = (rel: string): string => rel.split("/").map(encodeURIComponent).join("/");

type ServerKind = "apache" | "nginx";

async function startServer(kind: ServerKind, dir: string, root: string, fpmSocket: string, gpmRules = true): Promise<Running> {
  return kind === "apache" ? startApache(dir, { root, fpmSocket, gpmRules }) : startNginx(dir, { root, fpmSocket, gpmRules });
}

/** A site of our own that boots like Grav, with user content and (optionally) the stock Grav .htaccess. */
async function phpSite(root: string, version: string, o: { files?: number; includes?: number; htaccess?: Buffer } = {}): Promise<void> {
  await makeSite(root, version, { config: { smokeCheck: { timeoutSec: 60 } }, extra: { ...phpSiteTree(version, o), ...(o.htaccess ? { ".htaccess": o.htaccess } : {}) } });
}

function release(version: string, o: { files?: number; includes?: number } = {}): TreeSpec {
  return phpSiteTree(version, o);
}

interface Counts {
  requests: number;
  old: number;
  new: number;
  unavailable: number;
  torn: number;
  samples: string[];
}

/**
 * GET / from `workers` clients in a loop while `during()` runs, then a little
 * longer; bounded in count and in time. Each answer is wholly `oldV`, wholly
 * `newV`, a 503 — or torn (anything else: a mix of versions, a 500, a reset).
 */
async function requestLoop(url: string, oldV: string, newV: string, during: () => Promise<void>, o: { workers?: number; maxRequests?: number; maxMs?: number } = {}): Promise<Counts> {
  const c: Counts = { requests: 0, old: 0, new: 0, unavailable: 0, torn: 0, samples: [] };
  const maxRequests = o.maxRequests ?? 30_000;
  const until = Date.now() + (o.maxMs ?? 180_000);
  let stop = false;
  const one = async (): Promise<void> => {
    c.requests++;
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(15_000) });
      const body = (await r.text()).trim();
      if (r.status === 503) c.unavailable++;
      else if (r.status === 200 && body === `versions=${oldV}`) c.old++;
      else if (r.status === 200 && body === `versions=${newV}`) c.new++;
      else {
        c.torn++;
        if (c.samples.length < 5) c.samples.push(`${r.status} ${body.slice(0, 200)}`);
      }
    } catch (err) {
      c.torn++;
      if (c.samples.length < 5) c.samples.push(`error ${(err as Error).message}`);
    }
  };
  const worker = async (): Promise<void> => {
    while (!stop && c.requests < maxRequests && Date.now() < until) await one();
  };
  const workers = Array.from({ length: o.workers ?? 6 }, worker);
  // Some answers before, the change, some after.
  while (c.requests < 50 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await during();
  const after = c.requests + 100;
  while (c.requests < after && c.requests < maxRequests && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  stop = true;
  await Promise.all(workers);
  return c;
}

const line = (server: string, what: string, c: Counts): string => `${server} ${what}: requests ${c.requests}, old ${c.old}, new ${c.new}, 503 ${c.unavailable}, torn ${c.torn}`;

describe("e2e: real web servers (apache2, nginx, php-fpm)", function () {
  this.timeout(600_000);
  let stock: Buffer;
  const running: { stop(): Promise<void> }[] = [];
  before(async () => {
    stock = await zipEntry(realZip, "grav-update/.htaccess");
    assert.match(stock.toString(), /RewriteRule \^\(user\)\//, "Grav's stock .htaccess");
  });
  afterEach(async () => {
    while (running.length) await running.pop()!.stop();
  });

  for (const kind of ["apache", "nginx"] as const) {
    describe(kind, () => {
      it("(a) with Grav 1.7.48's stock .htaccess and gpm's files, every path into snapshots/ and .gpm/ is 403/404; the site's pages answer", async () => {
        const base = await tmpDir("gpm-web-");
        const root = path.join(base, "site");
        await phpSite(root, "1.0.0", { htaccess: stock });
        const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.1.0", tree: { ...release("1.1.0"), ".htaccess": stock } }]);
        const r = await runGpm(["self-upgrade", "--root", root, "--feed", feed, "--yes"]);
        assert.equal(r.code, 0, r.stderr);
        // gpm's own part: deny-all .htaccess, not world-readable.
        for (const d of ["snapshots", ".gpm"]) {
          assert.match(await fsp.readFile(path.join(root, d, ".htaccess"), "utf8"), /Require all denied[\s\S]*Deny from all/);
          assert.equal((await fsp.stat(path.join(root, d))).mode & 0o007, 0, `${d}/ is not world-readable`);
        }
        // The web server's user may read everything (it owns the site, as usual for Grav): only the rules protect.
        await giveToWebUser(root, base);
        const fpm = await startPhpFpm(path.join(base, "fpm"), { prepend: GUARD });
        running.push(fpm);
        const srv = await startServer(kind, path.join(base, kind), root, fpm.socket);
        running.push(srv);

        const home = await get(`${srv.url}/`);
        assert.equal(home.status, 200, `${home.body}\n${await srv.log()}\n${await fpm.log()}`);
        assert.equal(home.body.trim(), "versions=1.1.0");
        assert.equal((await get(`${srv.url}/robots.txt`)).status, 200);
        // A page routed by Grav's rules (the .htaccess RewriteRule, nginx's try_files) to index.php.
        const page = await get(`${srv.url}/blog/hello-world`);
        assert.equal(page.status, 200, `${page.body}\n${await srv.log()}`);
        assert.equal(page.body.trim(), "versions=1.1.0");
        assert.equal((await get(`${srv.url}/user/accounts/admin.yaml`)).status, 403, "Grav's own rule protects the live accounts");

        const paths = [...(await walk(path.join(root, "snapshots"))).map((p) => `snapshots/${p}`), ...(await walk(path.join(root, ".gpm"))).map((p) => `.gpm/${p}`), "snapshots/", ".gpm/", "snapshots", ".gpm"];
        assert.ok(paths.some((p) => p.endsWith("user/accounts/admin.yaml")) && paths.some((p) => p.endsWith("manifest.json")) && paths.some((p) => p.includes("/previous/system/")));
        const served: string[] = [];
        for (const p of paths) {
          const res = await get(`${srv.url}/${enc(p)}`);
          if (res.status !== 403 && res.status !== 404) served.push(`${p}: ${res.status}`);
        }
        assert.deepEqual(served, [], `served from gpm's state by ${kind}`);

        // Without gpm's files the same server hands out gpm's state (the finding): this is
        // what the rules above prevent. What leaks differs by server. Grav's .htaccess anchors its
        // user/ rule at the root (`^(user)/`), so Apache serves the snapshot's copy of the admin
        // account; Grav's nginx locations are unanchored regexes (`~* /user/.*\.(…|yaml|…)$`), which
        // happen to cover copies of user/ as well (403), but nothing of Grav's covers gpm's manifest
        // in the store, nor (for nginx, which reads no .htaccess) anything in .gpm/.
        await srv.stop();
        running.pop();
        await fsp.rm(path.join(root, "snapshots", ".htaccess"));
        const bare = await startServer(kind, path.join(base, `${kind}-bare`), root, fpm.socket, false);
        running.push(bare);
        const id = (await fsp.readdir(path.join(root, "snapshots"))).find((n) => n !== ".htaccess")!;
        const leaks: [string, RegExp][] = [[`snapshots/${id}/manifest.json`, new RegExp(`"id":\\s*"${id}"`)]];
        if (kind === "apache") leaks.push([`snapshots/${id}/user/accounts/admin.yaml`, /password: secret/]);
        if (kind === "nginx") leaks.push([".gpm/guard.json", /"maintenanceFlag"/]);
        for (const [p, body] of leaks) {
          const leak = await get(`${bare.url}/${enc(p)}`);
          assert.equal(leak.status, 200, `${kind} without gpm's rules: ${p}`);
          assert.match(leak.body, body, p);
        }
      });

      it("(b) during a self-upgrade and a rollback of a few-thousand-file site, every answer is wholly old, wholly new or 503 (zero torn)", async () => {
        const base = await tmpDir("gpm-web-");
        const root = path.join(base, "site");
        const shape = { files: 1500, includes: 60 };
        await phpSite(root, "1.0.0", shape);
        const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.1.0", tree: release("1.1.0", shape) }]);
        await giveToWebUser(root, base);
        const fpm = await startPhpFpm(path.join(base, "fpm"), { prepend: GUARD, children: 8 });
        running.push(fpm);
        const srv = await startServer(kind, path.join(base, kind), root, fpm.socket);
        running.push(srv);
        assert.equal((await get(`${srv.url}/`)).body.trim(), "versions=1.0.0", await srv.log());

        let upgrade = { code: null as number | null, stderr: "" };
        const up = await requestLoop(`${srv.url}/`, "1.0.0", "1.1.0", async () => {
          upgrade = await runGpm(["self-upgrade", "--root", root, "--feed", feed, "--yes"]);
        });
        assert.equal(upgrade.code, 0, upgrade.stderr);
        let rollback = { code: null as number | null, stderr: "" };
        const back = await requestLoop(`${srv.url}/`, "1.1.0", "1.0.0", async () => {
          rollback = await runGpm(["rollback", "--root", root, "--yes"]);
        });
        assert.equal(rollback.code, 0, rollback.stderr);

        const lines = [line(kind, "self-upgrade 1.0.0 → 1.1.0", up), line(kind, "rollback 1.1.0 → 1.0.0", back)];
        for (const l of lines) process.stdout.write(`      ${l}\n`);
        if (process.env.GPM_WEB_FIGURES) fs.appendFileSync(process.env.GPM_WEB_FIGURES, lines.join("\n") + "\n");
        for (const [what, c] of [["upgrade", up], ["rollback", back]] as const) {
          assert.equal(c.torn, 0, `${what}: torn answers: ${c.samples.join(" | ")}`);
          assert.ok(c.old > 0 && c.new > 0, `${what}: answers from both trees (${line(kind, what, c)})`);
        }
        const flag = await get(`${srv.url}/`);
        assert.equal(flag.body.trim(), "versions=1.0.0");
      });

      it("answers 503 with Retry-After while the maintenance flag exists", async () => {
        const base = await tmpDir("gpm-web-");
        const root = path.join(base, "site");
        await phpSite(root, "1.0.0");
        await giveToWebUser(root, base);
        const fpm = await startPhpFpm(path.join(base, "fpm"));
        running.push(fpm);
        const srv = await startServer(kind, path.join(base, kind), root, fpm.socket);
        running.push(srv);
        assert.equal((await get(`${srv.url}/`)).status, 200);
        await fsp.writeFile(path.join(root, ".upgrading"), JSON.stringify({ startedAt: new Date().toISOString(), pid: 1, from: "1.0.0", to: "1.1.0" }));
        for (const p of ["/", "/robots.txt", "/index.php", "/some/page"]) {
          const res = await get(`${srv.url}${p}`);
          assert.equal(res.status, 503, `${p}: ${res.status}`);
          assert.equal(res.headers.get("retry-after"), "30", p);
          assert.match(res.body, /Back in a moment/);
        }
        await fsp.rm(path.join(root, ".upgrading"));
        assert.equal((await get(`${srv.url}/`)).status, 200);
      });
    });
  }
});
