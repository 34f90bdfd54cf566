/**
 * The GitHub Releases API shape of the feed (SPEC section 3): an array of
 * releases, `tag_name` (a leading `v` dropped), `body` as changelog,
 * `prerelease` as channel `testing`, and the `.zip` asset whose name matches
 * config `assetPattern` — Grav publishes `grav-v…zip`, `grav-admin-v…zip` and
 * `grav-update-v…zip` per release, and only the last is an update package.
 */
import { z } from "zod";
import { fail } from "../util/errors.js";
import type { Logger } from "../util/log.js";
import type { Versioning } from "../util/version.js";
import type { Release } from "./types.js";

const githubAsset = z.object({
  name: z.string(),
  browser_download_url: z.string().min(1),
  size: z.number().int().nonnegative().optional(),
  digest: z.string().nullable().optional(),
});
const githubRelease = z.object({
  tag_name: z.string().min(1),
  body: z.string().nullable().optional(),
  prerelease: z.boolean().optional(),
  draft: z.boolean().optional(),
  published_at: z.string().nullable().optional(),
  assets: z.array(githubAsset).default([]),
});

/** What feed.ts lends this reader (so the shapes share one URL policy and one reader). */
export interface GithubFeedContext {
  display: string;
  log: Logger;
  versions: Versioning;
  assetPattern: RegExp;
  contentHint: string;
  label(raw: unknown, index: number): string;
  describeIssue(issue: z.core.$ZodIssue): string;
  releaseUrl(raw: string, label: string): string;
  readText(url: URL, what: string): Promise<string>;
}

/**
 * Drafts are skipped (not published); so, with one warning each, are a tag
 * that is not a version under the scheme and a release without an asset
 * matching assetPattern. The hash comes from the asset's `digest` or else
 * from a `SHA256SUMS` asset, fetched here; when neither gives one the release
 * keeps `sha256: ""` and is refused if selected.
 */
export async function readGithubFeed(list: unknown[], ctx: GithubFeedContext): Promise<Release[]> {
  const out: Release[] = [];
  const sumsCache = new Map<string, Promise<Map<string, string> | null>>();
  for (const [i, raw] of list.entries()) {
    const label = ctx.label(raw, i);
    const parsed = githubRelease.safeParse(raw);
    if (!parsed.success) throw fail(`feed ${ctx.display}: ${label}: ${ctx.describeIssue(parsed.error.issues[0]!)}`, ctx.contentHint);
    const r = parsed.data;
    if (r.draft) continue;
    const version = ctx.versions.clean(r.tag_name);
    if (!version) {
      ctx.log.warn({ tag: r.tag_name }, `feed ${ctx.display}: ${label}: tag "${r.tag_name}" is not a ${ctx.versions.scheme} version; release skipped`);
      continue;
    }
    const zip = r.assets.find((a) => ctx.assetPattern.test(a.name));
    if (!zip) {
      const names = r.assets.map((a) => a.name).join(", ") || "none";
      ctx.log.warn({ version }, `feed ${ctx.display}: release ${version} has no asset matching assetPattern ${ctx.assetPattern.source} (assets: ${names}); release skipped`);
      continue;
    }
    const url = ctx.releaseUrl(zip.browser_download_url, label);
    let sha256 = /^sha256:([0-9a-fA-F]{64})$/.exec(zip.digest ?? "")?.[1]?.toLowerCase() ?? "";
    if (!sha256) {
      const sumsAsset = r.assets.find((a) => /^sha256sums(\.txt)?$/i.test(a.name));
      if (sumsAsset) {
        const sumsUrl = ctx.releaseUrl(sumsAsset.browser_download_url, `${label} SHA256SUMS`);
        if (!sumsCache.has(sumsUrl)) sumsCache.set(sumsUrl, readSums(sumsUrl, ctx));
        sha256 = (await sumsCache.get(sumsUrl))?.get(zip.name) ?? "";
      }
    }
    out.push({
      version,
      url,
      asset: zip.name,
      sha256,
      size: zip.size ?? null,
      date: r.published_at ?? null,
      channel: r.prerelease ? "testing" : "stable",
      changelog: r.body ?? "",
      requires: {},
      conflicts: [],
      signature: null,
    });
  }
  return out;
}

/** `<hex>  <name>` lines (`*name` for binary mode, `./name` tolerated) → name → hex. Null when unreadable. */
async function readSums(url: string, ctx: GithubFeedContext): Promise<Map<string, string> | null> {
  let text: string;
  try {
    text = await ctx.readText(new URL(url), `SHA256SUMS ${url}`);
  } catch (err) {
    ctx.log.warn({ url, err: (err as Error).message }, "SHA256SUMS could not be read; that release has no hash");
    return null;
  }
  const sums = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(?:\.\/)?(.+?)\s*$/.exec(line);
    if (m) sums.set(m[2]!, m[1]!.toLowerCase());
  }
  return sums;
}
