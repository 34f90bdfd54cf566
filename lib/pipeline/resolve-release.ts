import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import type { Release } from "../stage/types.js";
import { loadFeed, selectRelease } from "../stage/feed.js";
import { versioning } from "../util/version.js";

/** Read the feed and pick the release: `version` by name, else the newest on the configured channel. */
export async function resolveRelease(inst: Installation, version: string | undefined, log: Logger, requireSha256 = true): Promise<{ releases: Release[]; release: Release }> {
  const versions = versioning(inst.config.versionScheme);
  const releases = await loadFeed(inst.config.feed, { log, versions, assetPattern: inst.config.assetPattern });
  const release = selectRelease(releases, { version, channel: inst.config.channel, requireSha256, versions });
  return { releases, release };
}
