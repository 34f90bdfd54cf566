/**
 * The starting points the e2e tests share, built once per test file:
 *   T0  an unmanaged Grav 1.7.48 site (makeSite), never touched by a test;
 *   T1  a copy of T0 that gpm upgraded to 1.8.0 (one finalized snapshot).
 * Each test works on its own clone (`cloneSite`), so cases cannot see each
 * other's changes. Real folders, a real feed of real zips, the real CLI.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { tmpDir, makeSite, makeFeed, runGpm, type FeedRelease, type TreeSpec } from "./fixtures.js";

const execFileP = promisify(execFile);

/** `cp -a` of a prepared site into a fresh temp folder (modes, links and times kept). */
export async function cloneSite(src: string, prefix = "gpm-crash-"): Promise<string> {
  const dst = path.join(await tmpDir(prefix), "site");
  await execFileP("cp", ["-a", src, dst]);
  return dst;
}

export interface SiteFixture {
  /** The temp folder holding everything below. */
  base: string;
  /** The feed file (releases.json) with the releases asked for. */
  feed: string;
  T0: string;
  /** "" unless `upgraded` was asked for. */
  T1: string;
}

export interface SiteFixtureOptions {
  /** Temp folder prefix (names the test file in /tmp). */
  prefix: string;
  /** Default: 1.8.0 only. T1 is built from the first one. */
  releases?: FeedRelease[];
  /** What the T0 site gets besides the 1.7.48 release (makeSite's options). */
  site?: { config?: Record<string, unknown>; extra?: TreeSpec };
  /** Also build T1 (an upgrade through the CLI: ~1 s). */
  upgraded?: boolean;
  /** T0's folder name under base (kill-random's "site"). */
  name?: string;
}

export async function buildSites(o: SiteFixtureOptions): Promise<SiteFixture> {
  const base = await tmpDir(o.prefix);
  const releases = o.releases ?? [{ version: "1.8.0" }];
  const feed = await makeFeed(path.join(base, "feed"), releases);
  const T0 = path.join(base, o.name ?? "T0");
  await makeSite(T0, "1.7.48", o.site ?? {});
  let T1 = "";
  if (o.upgraded) {
    T1 = await cloneSite(T0);
    const r = await runGpm(["self-upgrade", "--version", releases[0]!.version, "--root", T1, "--feed", feed]);
    assert.equal(r.code, 0, r.stderr);
  }
  return { base, feed, T0, T1 };
}
