/**
 * Archive junk (SPEC section 3): what a zip made on a Mac carries besides the
 * release — the `__MACOSX/` resource-fork folder beside the wrapping folder,
 * and `.DS_Store` files. Dropped before the wrapping folder is judged, so a
 * `grav-update/` beside `__MACOSX/` is still stripped, and none of it reaches
 * the web root.
 */
export function isArchiveJunk(segments: readonly string[]): boolean {
  return segments.includes("__MACOSX") || segments[segments.length - 1] === ".DS_Store";
}
