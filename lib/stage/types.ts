/** A release as read from the feed (native or GitHub shape), normalized. */
export interface Release {
  version: string;
  /** Absolute URL (http:, https: or file:) of the release zip. */
  url: string;
  /** The package's file name: the GitHub asset chosen by assetPattern, or the last segment of a native feed's url. */
  asset?: string | null;
  sha256: string;
  size: number | null;
  date: string | null;
  channel: "stable" | "testing";
  changelog: string;
  requires: { php?: string; node?: string; extensions?: string[] };
  conflicts: { package: string; versions: string; message?: string }[];
  signature: string | null;
}
