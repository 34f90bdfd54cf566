/**
 * Which release an upgrade targets, and which releases lie between two
 * versions. Every comparison is made under the installation's versionScheme
 * (lib/util/version.ts), so gpm orders releases the way the application does.
 */
import { fail, integrity, type GpmError } from "../util/errors.js";
import { versioning, type Versioning } from "../util/version.js";
import type { Release } from "./types.js";

const FEED_HINT = "check the feed URL in gpm.json or --feed";

/**
 * A version as the user types it: `1.8.0`, `v1.8.0`, `grav@1.8.0`. Exit 1
 * when it is not a version under the scheme.
 */
export function parseVersionArg(input: string, v: Versioning = versioning()): string {
  const at = input.lastIndexOf("@");
  const bare = at >= 0 ? input.slice(at + 1) : input;
  const clean = v.clean(bare);
  if (!clean) throw fail(`"${input}" is not a version`, "give a version such as 1.8.0 (or grav@1.8.0)");
  return clean;
}

export interface SelectOptions {
  /** Wanted version (any form parseVersionArg reads); default: the newest on the channel. */
  version?: string | undefined;
  channel: "stable" | "testing";
  /**
   * Default true: refuse (exit 6) a release without a sha256. `--check` passes
   * false to show what is available without installing it.
   */
  requireSha256?: boolean;
  /** Default: the php scheme (Grav's). */
  versions?: Versioning;
}

/**
 * The release to install. The stable channel sees only stable releases, the
 * testing channel sees both. A version asked for by name is found on any
 * channel: naming it is the operator's explicit choice.
 */
export function selectRelease(releases: Release[], opts: SelectOptions): Release {
  const v = opts.versions ?? versioning();
  let chosen: Release | undefined;
  if (opts.version !== undefined) {
    const want = parseVersionArg(opts.version, v);
    chosen = releases.find((r) => v.eq(r.version, want));
    if (!chosen) {
      const sorted = v.sortDesc(releases, (r) => r.version).map((r) => r.version);
      const shown = sorted.slice(0, 8).join(", ") + (sorted.length > 8 ? `, … (${sorted.length} in all)` : "");
      throw fail(`version ${want} is not in the feed; available: ${shown || "none"}`, "pick one of the available versions");
    }
  } else {
    const onChannel = releases.filter((r) => opts.channel === "testing" || r.channel === "stable");
    chosen = v.sortDesc(onChannel, (r) => r.version)[0];
    if (!chosen) throw fail(`the feed has no ${opts.channel} release`, opts.channel === "stable" ? 'set "channel": "testing" to see pre-releases' : FEED_HINT);
  }
  if ((opts.requireSha256 ?? true) && !chosen.sha256) throw missingSha256(chosen);
  return chosen;
}

export function missingSha256(r: Release): GpmError {
  return integrity(`release ${r.version} has no sha256 in the feed; refusing an archive that cannot be verified`, "the feed must give a sha256 (or a GitHub digest / SHA256SUMS asset) for every release");
}

/**
 * Releases newer than `from` up to and including `to`, oldest first (the
 * changelog of `--check`). With `channel: "stable"`, pre-releases in between
 * are left out (the target itself is always included).
 */
export function releasesBetween(
  releases: Release[],
  from: string | null,
  to: string,
  opts: { channel?: "stable" | "testing"; versions?: Versioning } = {},
): Release[] {
  const v = opts.versions ?? versioning();
  const picked = releases
    .filter((r) => (from === null || v.gt(r.version, from)) && !v.gt(r.version, to))
    .filter((r) => opts.channel !== "stable" || r.channel === "stable" || v.eq(r.version, to));
  return v.sortDesc(picked, (r) => r.version).reverse();
}
