import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { runGpm, treeState, serveDir, type Server } from "../helpers/fixtures.js";
import { buildSites } from "../helpers/sites.js";
import { writeRawZip, file, dir, symlink, type RawEntry } from "../helpers/raw-zip.js";
import { Exit } from "../../lib/util/errors.js";
import { cloneSite, pool } from "./crash-fixtures.js";

/**
 * Issue 4, hostile input catalogue (DESIGN invariant 7). Every case runs the
 * real CLI against a fresh copy of a site and must be refused with the exit
 * code SPEC section 4 gives, one `error:` line naming what is wrong, and
 * nothing changed: the whole root byte for byte (no stage, no snapshot
 * store, no .gpm/ left behind) and a folder beside the root that the input
 * tries to reach.
 */

/** The minimal body of a release, so that only the hostile entries make it unsafe. */
const BODY: RawEntry[] = [
  file("index.php", "<?php // 1.8.0\n"),
  file("system/defines.php", "<?php\ndefine('GRAV_VERSION', '1.8.0');\n"),
  file("bin/check.mjs", "process.exit(0);\n", 0o755),
];

interface Case {
  name: string;
  /** The site to start from: T0 (unmanaged 1.7.48) or T1 (upgraded to 1.8.0, one snapshot). */
  site: "T0" | "T1";
  /** Prepare the case (write a feed, edit the site); returns the CLI arguments (without --root). */
  setup: (c: Ctx) => Promise<string[]>;
  /** Instead of --root <site>: a root of the case's own. */
  root?: (c: Ctx) => Promise<string>;
  code: number;
  message: RegExp;
  error?: unknown;
}

interface Ctx {
  root: string;
  /** The case's own folder for feeds (outside the compared trees). */
  dir: string;
  /** `dir` as served over http on 127.0.0.1. */
  httpDir: string;
  victim: string;
}

/** A native feed in `dir` whose one release 1.8.0 is `zip` (sha256 and size matching it). */
async function rawFeed(c: Ctx, entries: RawEntry[] | Buffer, extra: Record<string, unknown> = {}): Promise<string> {
  const zip = path.join(c.dir, "release.zip");
  let sha256: string;
  let size: number;
  if (Buffer.isBuffer(entries)) {
    await fsp.writeFile(zip, entries);
    sha256 = crypto.createHash("sha256").update(entries).digest("hex");
    size = entries.length;
  } else ({ sha256, size } = await writeRawZip(zip, entries));
  const feed = path.join(c.dir, "releases.json");
  await fsp.writeFile(feed, JSON.stringify({ releases: [{ version: "1.8.0", url: "release.zip", sha256, size, ...extra }] }));
  return feed;
}

const upgrade = (feed: string, ...more: string[]): string[] => ["self-upgrade", "--version", "1.8.0", "--feed", feed, ...more];

/** Write gpm.json with `config` (merged over the site's own unless `raw`). */
async function setConfig(c: Ctx, config: unknown, raw = false): Promise<void> {
  const f = path.join(c.root, "gpm.json");
  const text = raw ? String(config) : JSON.stringify({ ...JSON.parse(await fsp.readFile(f, "utf8")), ...(config as object) });
  await fsp.writeFile(f, text);
}

const archive = (name: string, entries: () => RawEntry[], message: RegExp, config?: Record<string, unknown>): Case => ({
  name: `archive: ${name}`,
  site: "T0",
  code: Exit.INTEGRITY,
  message,
  setup: async (c) => {
    if (config) await setConfig(c, config);
    return upgrade(await rawFeed(c, [...BODY, ...entries()]));
  },
});

const MiB = 1 << 20;
const zeros = (n: number): Buffer => Buffer.alloc(n);

const CASES: Case[] = [
  // --- archives (stage phase): exit 6, nothing extracted anywhere
  archive("zip bomb by ratio: 64 MiB of zeros in ~64 KiB, more than limits.maxUnpackedBytes", () => [file("vendor/bomb.bin", zeros(64 * MiB))], /declares \d+ unpacked bytes, more than limits\.maxUnpackedBytes/, { limits: { maxUnpackedBytes: 16 * MiB } }),
  archive("zip bomb that lies about its size (declares 1 KiB, inflates to 64 MiB)", () => [{ name: "vendor/bomb.bin", data: zeros(64 * MiB), declaredSize: 1024 }], /holds more bytes than the 1024 it declares/),
  archive("zip bomb by absolute size: 40 entries of 1 MiB, 40 MiB in all", () => Array.from({ length: 40 }, (_, i) => file(`vendor/part${i}.bin`, zeros(MiB))), /more than limits\.maxUnpackedBytes/, { limits: { maxUnpackedBytes: 16 * MiB } }),
  archive("more entries than limits.maxFiles", () => Array.from({ length: 150 }, (_, i) => file(`vendor/f${i}.php`, "x")), /entries.*limits\.maxFiles/, { limits: { maxFiles: 100 } }),
  archive("a deeply nested path (60 levels)", () => [file(`${"deep/".repeat(60)}f.php`, "x")], /nested deeper than/),
  archive("a path name of 2,000 bytes", () => [file(`${"d".repeat(200)}/`.repeat(10) + "f.php", "x")], /longer than 1024 bytes/),
  archive("a control character (BEL) in a name", () => [file("system/evil\u0007.php", "x")], /control character/),
  archive("a newline in a name", () => [file("system/evil\nname.php", "x")], /control character/),
  archive("a C1 control character in a name", () => [file("system/evil\u0085.php", "x")], /control character/),
  archive("a backslash in a name", () => [file("system\\evil.php", "x")], /backslash/),
  archive("a Windows-style traversal", () => [file("..\\..\\evil.php", "x")], /backslash/),
  archive("a `..` traversal", () => [file("../evil.php", "x")], /"\.\." segment/),
  archive("a traversal in the middle of a path", () => [file("system/../../evil.php", "x")], /"\.\." segment/),
  archive("an absolute path", () => [file("/tmp/evil.php", "x")], /absolute path/),
  archive("a drive letter", () => [file("C:/evil.php", "x")], /drive letter/),
  archive("a symlink to a sibling folder, then a write beneath it", () => [dir("vendor/"), symlink("system/link", "../vendor"), file("system/link/evil.php", "x")], /beneath the symlink/),
  archive("a symlink to a folder, then a folder entry beneath it", () => [symlink("alias", "system"), dir("alias/sub/")], /beneath the symlink/),
  archive("a symlink that climbs out of the tree", () => [symlink("system/up", "../../../../etc")], /points outside the tree/),
  archive("a symlink to an absolute path", () => [symlink("system/passwd", "/etc/passwd")], /absolute path/),
  archive("a symlink through another symlink", () => [symlink("a", "system"), symlink("b", "a/../../etc")], /through another symlink|outside/),
  archive("the same entry twice", () => [file("system/x.php", "1"), file("system/x.php", "2")], /duplicate/),
  archive("names that differ only in case", () => [file("system/Readme.php", "1"), file("system/README.php", "2")], /differ only in case/),
  {
    name: "archive: not a zip at all (right sha256)",
    site: "T0",
    code: Exit.INTEGRITY,
    message: /not a valid zip|corrupt/,
    setup: async (c) => upgrade(await rawFeed(c, crypto.randomBytes(4096))),
  },
  {
    name: "archive: a sha256 that does not match",
    site: "T0",
    code: Exit.INTEGRITY,
    message: /sha256 mismatch/,
    setup: async (c) => upgrade(await rawFeed(c, BODY, { sha256: "ab".repeat(32) })),
  },

  // --- release URLs against the feed's scheme rules: exit 6, nothing downloaded
  ...(
    [
      ["file:///etc/passwd from an http feed", "http", "file:///etc/passwd"],
      ["a relative file: URL from an http feed", "http", "file:release.zip"],
      ["ftp:// from an http feed", "http", "ftp://127.0.0.1/release.zip"],
      ["javascript: from an http feed", "http", "javascript:alert(1)"],
      ["data: from a local feed", "file", "data:application/zip;base64,UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="],
      ["ftp:// from a local feed", "file", "ftp://127.0.0.1/release.zip"],
    ] as const
  ).map(
    ([name, feedKind, url]): Case => ({
      name: `feed: ${name}`,
      site: "T0",
      code: Exit.INTEGRITY,
      message: /unsafe release url/,
      setup: async (c) => {
        await rawFeed(c, BODY, { url });
        return upgrade(feedKind === "file" ? path.join(c.dir, "releases.json") : `${c.httpDir}/releases.json`);
      },
    }),
  ),
  {
    name: "feed: a version that is a path",
    site: "T0",
    code: Exit.ERROR,
    // SPEC 1: a release whose version does not parse is skipped (with a warning); this feed then has none.
    message: /the feed has no stable release/,
    setup: async (c) => {
      await rawFeed(c, BODY, { version: "../../../victim" });
      return ["self-upgrade", "--feed", path.join(c.dir, "releases.json")];
    },
  },

  // --- manifest ids given on the command line: exit 1, never used as a path
  ...["../../victim", "..", ".", "/etc/passwd", "snapshots/../..", "$ID/../$ID", "./$ID", "$ID/", "$ID/.", "%2e%2e", "..%2f..%2fvictim", "$ID\\..", "~", "", " ", "$ID ", "a".repeat(300), "$ID\n", "../decoy", "../../decoy"].map(
    (id): Case => ({
      name: `rollback id ${JSON.stringify(id.length > 40 ? id.slice(0, 12) + "…" : id)}`,
      site: "T1",
      code: Exit.ERROR,
      message: /no manifest with id|is not a manifest id/,
      setup: async (c) => {
        const real = ((await fsp.readdir(path.join(c.root, "snapshots"))).filter((n) => n !== ".htaccess"))[0]!;
        return ["rollback", id.replaceAll("$ID", real)];
      },
    }),
  ),
  {
    name: "manifest: a snapshot whose manifest names a core entry outside the root is never trusted",
    site: "T1",
    code: Exit.ERROR,
    message: /no manifest with id/,
    setup: async (c) => {
      const id = ((await fsp.readdir(path.join(c.root, "snapshots"))).filter((n) => n !== ".htaccess"))[0]!;
      const mf = path.join(c.root, "snapshots", id, "manifest.json");
      const m = JSON.parse(await fsp.readFile(mf, "utf8")) as { core: string[] };
      m.core.push("../victim");
      await fsp.writeFile(mf, JSON.stringify(m));
      return ["rollback", id];
    },
  },
  {
    name: "journal: a journal whose move leaves the root",
    site: "T1",
    code: Exit.ERROR,
    message: /journal move: "\.\.\/victim" points outside/,
    setup: async (c) => {
      const st = await fsp.lstat(c.victim);
      const j = { version: 1, kind: "upgrade", manifestId: "x", pid: 1, createdAt: "", phase: "applying", moves: [{ from: "../victim", to: "system", dev: st.dev, ino: st.ino }], copies: {}, undoCopies: {}, maintenanceFlag: null, postUpgradeStarted: false, meta: { from: null, to: null, maintenanceOnAt: null, startedAt: "" } };
      await fsp.writeFile(path.join(c.root, ".gpm/journal.json"), JSON.stringify(j));
      return ["status"];
    },
  },

  // --- --root and gpm.json: exit 1, naming what is wrong
  { name: "--root that does not exist", site: "T0", code: Exit.ERROR, message: /does not exist/, root: async (c) => path.join(c.dir, "nowhere"), setup: async () => ["rollback"] },
  {
    name: "--root that is a file",
    site: "T0",
    code: Exit.ERROR,
    message: /is not a directory/,
    root: async (c) => {
      await fsp.writeFile(path.join(c.dir, "a-file"), "x");
      return path.join(c.dir, "a-file");
    },
    setup: async () => ["status"],
  },
  ...(["self-upgrade", "rollback", "verify"] as const).map(
    (cmd): Case => ({
      name: `--root that is not an installation (${cmd})`,
      site: "T0",
      code: Exit.ERROR,
      message: /is not an installation|no finalized (snapshot|manifest)/,
      root: async (c) => {
        const d = path.join(c.dir, "not-a-site");
        await fsp.mkdir(d);
        await fsp.writeFile(path.join(d, "readme.txt"), "just a folder\n");
        return d;
      },
      setup: async (c) => (cmd === "self-upgrade" ? upgrade(await rawFeed(c, BODY)) : [cmd]),
    }),
  ),
  ...(
    [
      ["gpm.json that is not JSON", "{ feed: nope", /gpm\.json is not valid JSON/],
      ["gpm.json that is an array", "[1, 2]", /top level must be a JSON object/],
      ["gpm.json that is empty", "", /not valid JSON/],
    ] as const
  ).map(
    ([name, text, message]): Case => ({
      name,
      site: "T1",
      code: Exit.ERROR,
      message,
      setup: async (c) => {
        await setConfig(c, text, true);
        return ["rollback"];
      },
    }),
  ),
  ...(
    [
      ["snapshotDir", "../victim"],
      ["snapshotDir", "."],
      ["maintenanceFlag", "/tmp/gpm-flag"],
      ["recoveryFlag", "../../victim/flag"],
      ["versionFile", "../victim/defines.php"],
      ["preserve", ["user", "../victim"]],
      ["clearOnPromote", ["/tmp"]],
      ["pluginDirs", [".."]],
    ] as const
  ).map(
    ([key, value]): Case => ({
      name: `gpm.json ${key}: ${JSON.stringify(value)} (a path that escapes)`,
      site: "T1",
      code: Exit.ERROR,
      message: new RegExp(`gpm\\.json: ${key}(\\[\\d\\])?: .*must be a relative path inside the root`),
      setup: async (c) => {
        await setConfig(c, { [key]: value });
        return ["rollback"];
      },
    }),
  ),
  {
    name: "gpm.json with an unknown key",
    site: "T1",
    code: Exit.ERROR,
    message: /gpm\.json: snapshotdir: unknown key/,
    setup: async (c) => {
      await setConfig(c, { snapshotdir: "../victim" });
      return ["rollback"];
    },
  },
  {
    name: "--config that does not exist",
    site: "T1",
    code: Exit.ERROR,
    message: /cannot read config/,
    setup: async (c) => ["rollback", "--config", path.join(c.dir, "missing.json")],
  },
];

describe("e2e: hostile input is refused and changes nothing", function () {
  this.timeout(600_000);
  const sites = {} as Record<"T0" | "T1", string>;
  let base = "";
  let feed = "";
  let server: Server;

  before(async () => {
    ({ base, feed, T0: sites.T0, T1: sites.T1 } = await buildSites({ prefix: "gpm-hostile-", releases: [{ version: "1.8.0" }, { version: "1.8.2" }], upgraded: true }));
    server = await serveDir(base);

    await pool(CASES, 3, async (k) => {
      try {
        await runCase(k);
      } catch (err) {
        k.error = err;
      }
    });
  });
  after(async () => server?.close());

  async function runCase(k: Case): Promise<void> {
    const site = await cloneSite(sites[k.site], "gpm-hostile-case-");
    const caseDir = path.dirname(site);
    // A folder beside the root, and a decoy snapshot outside the store, that the input may try to reach.
    const victim = path.join(caseDir, "victim");
    await fsp.mkdir(victim);
    await fsp.writeFile(path.join(victim, "important.txt"), "keep me\n");
    await fsp.mkdir(path.join(caseDir, "decoy", "previous"), { recursive: true });
    await fsp.writeFile(path.join(caseDir, "decoy", "manifest.json"), JSON.stringify({ id: "../decoy", status: "finalized", from: "1.7.48", to: "1.8.0", core: ["victim"] }));
    const work = path.join(caseDir, "work");
    await fsp.mkdir(work);
    // The feed server serves `base`; cases live elsewhere, so link the case folder in.
    const link = path.join(base, `case-${path.basename(caseDir)}`);
    await fsp.symlink(work, link);
    const c: Ctx = { root: site, dir: work, httpDir: `${server.url}/${path.basename(link)}`, victim };
    const args = await k.setup(c);
    const root = k.root ? await k.root(c) : site;
    const before = await treeState(caseDir, { exclude: (p) => p === "work" || p.startsWith("work/") });
    const r = await runGpm([...args, "--root", root]);
    assert.equal(r.code, k.code, `exit ${r.code}, expected ${k.code}: ${r.stderr}`);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(errors.length, 1, `one error line: ${r.stderr}`);
    assert.match(errors[0]!, k.message);
    assert.deepEqual(await treeState(caseDir, { exclude: (p) => p === "work" || p.startsWith("work/") }), before, "nothing changed: the site byte for byte, and everything beside it");
    assert.equal(await fsp.readFile(path.join(victim, "important.txt"), "utf8"), "keep me\n");
  }

  it(`tries ${CASES.length} hostile inputs`, () => {
    console.log(`      ${CASES.length} hostile inputs: ${CASES.filter((k) => k.name.startsWith("archive")).length} archives, ${CASES.filter((k) => k.name.startsWith("feed")).length} feeds, ${CASES.filter((k) => k.name.startsWith("rollback id")).length} manifest ids, ${CASES.length - CASES.filter((k) => /^(archive|feed|rollback id)/.test(k.name)).length} config/root/state`);
    assert.ok(CASES.length >= 40);
  });

  it("an upgrade over a tampered manifest (its core names ../victim) leaves what is outside the root alone", async () => {
    const site = await cloneSite(sites.T1, "gpm-hostile-case-");
    const victim = path.join(path.dirname(site), "victim");
    await fsp.mkdir(victim);
    await fsp.writeFile(path.join(victim, "important.txt"), "keep me\n");
    const id = ((await fsp.readdir(path.join(site, "snapshots"))).filter((n) => n !== ".htaccess"))[0]!;
    const mf = path.join(site, "snapshots", id, "manifest.json");
    const m = JSON.parse(await fsp.readFile(mf, "utf8")) as { core: string[] };
    m.core.push("../victim"); // "dropped by the new release": it would be moved into the new snapshot
    await fsp.writeFile(mf, JSON.stringify(m));
    const r = await runGpm(["self-upgrade", "--version", "1.8.2", "--root", site, "--feed", feed]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await fsp.readFile(path.join(victim, "important.txt"), "utf8"), "keep me\n");
    const snaps = (await fsp.readdir(path.join(site, "snapshots"))).filter((n) => n !== ".htaccess");
    for (const s of snaps) assert.ok(!(await fsp.readdir(path.join(site, "snapshots", s))).includes("victim"), "nothing from outside was moved in");
  });

  for (const k of CASES) {
    it(`${k.name}: exit ${k.code}, nothing changed`, () => {
      if (k.error) throw k.error;
    });
  }
});
