/**
 * Versions ordered the way the application orders them (config
 * `versionScheme`, SPEC section 1). Every comparison of application versions
 * in gpm goes through here: version policy, channel choice, `--check`, feed
 * sorting, the package-is-the-release check, plugin dependencies.
 *
 *  - `php` (the default): PHP's `version_compare`, which Grav itself uses.
 *    It orders 4-part versions (`1.7.49` < `1.7.49.5` < `1.7.50`) and
 *    pre-releases (`1.8.0-beta.9` < `1.8.0-beta.10` < `1.8.0-rc.1` < `1.8.0`),
 *    where semver refuses `1.7.49.5` outright. The algorithm below is a line by
 *    line port of php-src `ext/standard/versioning.c`, so gpm and Grav can never
 *    disagree on which of two releases is newer.
 *  - `semver`: semver 2.0 (node-semver), for applications that follow it.
 *
 * version_compare takes any string; a "version" under the php scheme is what
 * Grav could have tagged: digits first, then dot/dash/underscore/plus separated
 * numbers and the words version_compare knows (dev, alpha, a, beta, b, RC, rc,
 * pl, p). Anything else (`latest`, `1.8.0-foo`) is not a version.
 */
import semver from "semver";
import { fail } from "./errors.js";

export type VersionScheme = "php" | "semver";

// ---------------------------------------------------------------- PHP version_compare

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const isAlnum = (c: string): boolean => /^[0-9A-Za-z]$/.test(c);
const isSpecial = (c: string): boolean => c === "-" || c === "_" || c === "+";

/** php_canonicalize_version: `1.8.0-beta.29` → `1.8.0.beta.29`, `1.0rc1` → `1.0.rc.1`. */
function canonicalize(v: string): string {
  if (v.length === 0) return "";
  let out = v[0]!;
  let lp = v[0]!;
  for (const c of v.slice(1)) {
    const last = out[out.length - 1];
    // isdig/isndig treat '.' as neither a digit nor a non-digit.
    const dig = (x: string): boolean => isDigit(x) && x !== ".";
    const ndig = (x: string): boolean => !isDigit(x) && x !== ".";
    if (isSpecial(c)) {
      if (last !== ".") out += ".";
    } else if ((ndig(lp) && dig(c)) || (dig(lp) && ndig(c))) {
      if (last !== ".") out += ".";
      out += c;
    } else if (!isAlnum(c)) {
      if (last !== ".") out += ".";
    } else {
      out += c;
    }
    lp = c;
  }
  return out;
}

/** Order of the special forms; a word not in the list sorts below `dev`. Matched by prefix, as PHP's strncmp does. */
const SPECIAL_FORMS: [string, number][] = [
  ["dev", 0],
  ["alpha", 1],
  ["a", 1],
  ["beta", 2],
  ["b", 2],
  ["RC", 3],
  ["rc", 3],
  ["#", 4],
  ["pl", 5],
  ["p", 5],
];

function specialForm(form: string): number {
  for (const [name, order] of SPECIAL_FORMS) if (form.startsWith(name)) return order;
  return -1;
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

/** PHP's version_compare(a, b): -1, 0 or 1. */
export function phpVersionCompare(a: string, b: string): number {
  if (a === "" || b === "") return a === "" && b === "" ? 0 : a ? 1 : -1;
  const v1 = a.startsWith("#") ? a : canonicalize(a);
  const v2 = b.startsWith("#") ? b : canonicalize(b);
  // Walk both strings segment by segment, like the C code with its p/n pointers.
  let p1 = 0;
  let p2 = 0;
  let n1: number | null = 0;
  let n2: number | null = 0;
  let compare = 0;
  const seg = (s: string, from: number, to: number | null): string => s.slice(from, to ?? undefined);
  while (p1 < v1.length && p2 < v2.length && n1 !== null && n2 !== null) {
    const d1 = v1.indexOf(".", p1);
    const d2 = v2.indexOf(".", p2);
    n1 = d1 >= 0 ? d1 : null;
    n2 = d2 >= 0 ? d2 : null;
    const s1 = seg(v1, p1, n1);
    const s2 = seg(v2, p2, n2);
    if (isDigit(s1[0]) && isDigit(s2[0])) compare = sign(parseInt(s1, 10) - parseInt(s2, 10));
    else if (!isDigit(s1[0]) && !isDigit(s2[0])) compare = sign(specialForm(s1) - specialForm(s2));
    else if (isDigit(s1[0])) compare = sign(specialForm("#N#") - specialForm(s2));
    else compare = sign(specialForm(s1) - specialForm("#N#"));
    if (compare !== 0) break;
    if (n1 !== null) p1 = n1 + 1;
    if (n2 !== null) p2 = n2 + 1;
  }
  if (compare === 0) {
    if (n1 !== null) compare = isDigit(v1[p1]) ? 1 : phpVersionCompare(v1.slice(p1), "#N#");
    else if (n2 !== null) compare = isDigit(v2[p2]) ? -1 : phpVersionCompare("#N#", v2.slice(p2));
  }
  return compare;
}

const PHP_WORD = /^(dev|alpha|a|beta|b|RC|rc|pl|p)$/;

/** Is `v` a version Grav could have tagged (see the header)? */
function isPhpVersion(v: string): boolean {
  if (!/^[0-9][0-9A-Za-z.+_-]*$/.test(v) || /[.+_-]{2}|[.+_-]$/.test(v)) return false;
  return canonicalize(v)
    .split(".")
    .every((s) => /^[0-9]+$/.test(s) || PHP_WORD.test(s));
}

// ---------------------------------------------------------------- the scheme

/** node-semver throws a TypeError on a bad version; an installed `1.7.49.4` must give a clear line instead. */
function semverCompare(a: string, b: string): number {
  for (const x of [a, b]) {
    if (semver.valid(x) === null) throw fail(`"${x}" is not a semver version`, 'set "versionScheme": "php" in gpm.json (Grav\'s own ordering)');
  }
  return semver.compare(a, b);
}

export interface Versioning {
  scheme: VersionScheme;
  /** `v1.8.0` → `1.8.0`; null when it is not a version under the scheme. */
  clean(raw: string): string | null;
  /** Negative, 0 or positive. Both arguments must be clean versions. */
  compare(a: string, b: string): number;
  eq(a: string, b: string): boolean;
  gt(a: string, b: string): boolean;
  /** Newest first. */
  sortDesc<T>(items: readonly T[], key: (t: T) => string): T[];
}

export function versioning(scheme: VersionScheme = "php"): Versioning {
  const clean =
    scheme === "semver"
      ? (raw: string): string | null => semver.valid(raw.trim().replace(/^[vV]/, ""))
      : (raw: string): string | null => {
          const v = raw.trim().replace(/^[vV]/, "");
          return isPhpVersion(v) ? v : null;
        };
  const compare = scheme === "semver" ? semverCompare : phpVersionCompare;
  return {
    scheme,
    clean,
    compare,
    eq: (a, b) => compare(a, b) === 0,
    gt: (a, b) => compare(a, b) > 0,
    sortDesc: (items, key) => [...items].sort((x, y) => compare(key(y), key(x))),
  };
}
