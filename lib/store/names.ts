/**
 * One rule for every name gpm turns into a single path segment: manifest ids
 * (snapshots/<id>/) and plugin or theme names (user/plugins/<name>/). Refused
 * before it can become a path (invariant 7).
 */
export const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name) && name !== "." && name !== ".." && name.length <= 200;
}
