/**
 * Composer version constraints (https://getcomposer.org/doc/articles/versions.md),
 * parsed into sets of version intervals so that matching, intersection and
 * complement are exact set operations rather than string tricks.
 *
 * The grammar and the bounds follow Composer's VersionParser:
 *   - OR: `||` or a single `|`; AND: a comma or whitespace (`>=1.0 <2.0`, `>=1.0,<2.0`);
 *   - exact `1.2.3`, `=1.2.3`, `==1.2.3`, `v1.2`; comparisons `>`, `>=`, `<`, `<=`, `!=`, `<>`;
 *   - `^1.2.3` (next major; `^0.3` -> `<0.4`, `^0.0.3` -> `<0.0.4`), `~1.2` (-> `<2.0`),
 *     `~1.2.3` (-> `<1.3`), wildcards `1.2.*` and `*`, hyphen ranges `1.0 - 2.0`
 *     (a partial upper end means "up to the next minor/major": `< 2.1`);
 *   - like Composer, `>=1.0` and `<2.0` (no stability given) mean `>=1.0.0.0-dev` and
 *     `<2.0.0.0-dev`, so `<2.0` does not admit `2.0.0-beta1`;
 *   - `@dev` / `@stable` flags are dropped (gpm has no minimum-stability to apply);
 *   - `A as B` aliases keep `A`; `#ref` suffixes of branch names are dropped;
 *   - branch names (`dev-master`, `master`) match only that branch: they admit no
 *     numeric version, and never throw.
 *
 * Versions normalize like Composer's: up to four numeric parts (date versions may have
 * more), then a stability: dev < alpha < beta < RC < stable < patch, its number, and a
 * trailing `-dev` which sorts just below the same version without it. The ordering is
 * treated as dense (between any two distinct versions lies another one, e.g. a patch
 * release), which is what makes "is this interval empty" a pure bound comparison.
 */
import { fail } from "../util/errors.js";

const STABILITY = { dev: 0, alpha: 1, beta: 2, RC: 3, stable: 4, patch: 5 } as const;
const STABILITY_NAMES = ["dev", "alpha", "beta", "RC", "stable", "patch"] as const;

export interface Version {
  /** Numeric parts, e.g. [1, 2, 3, 0]. Missing trailing parts compare as 0. */
  nums: number[];
  /** Index in dev < alpha < beta < RC < stable < patch. */
  stability: number;
  /** The number after the stability word (`beta1.2` -> [1, 2]). */
  stabilityNums: number[];
  /** A `-dev` after a pre-release (`1.0.0-beta1-dev`): just below the same without it. */
  dev: boolean;
}

export interface Bound {
  v: Version;
  inclusive: boolean;
}

/** An interval of versions; a null end is unbounded. */
export interface Range {
  lo: Bound | null;
  hi: Bound | null;
}

export interface Constraint {
  source: string;
  /** Disjoint, sorted intervals of numeric versions the constraint admits. */
  ranges: Range[];
  /** Branch names (`dev-master`) it admits. */
  branches: string[];
  /** True for `*`: every branch too. */
  anyBranch: boolean;
}

// ---------------------------------------------------------------- versions

const MODIFIER = String.raw`[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?`;
const CLASSIC = new RegExp(String.raw`^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?${MODIFIER}$`, "i");
const DATE = new RegExp(String.raw`^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2})${MODIFIER}$`, "i");
const BRANCH_NUMERIC = /^v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?$/;
/** Composer writes `1.x-dev` as 1.9999999.9999999.9999999-dev. */
const BRANCH_MAX = 9999999;

export type ParsedVersion = { kind: "numeric"; version: Version; explicitStability: boolean } | { kind: "branch"; name: string };

function expandStability(word: string): number {
  const w = word.toLowerCase();
  if (w === "a" || w === "alpha") return STABILITY.alpha;
  if (w === "b" || w === "beta") return STABILITY.beta;
  if (w === "rc") return STABILITY.RC;
  if (w === "p" || w === "pl" || w === "patch") return STABILITY.patch;
  return STABILITY.stable;
}

function withModifier(nums: number[], word: string | undefined, number: string | undefined, dev: string | undefined): { version: Version; explicitStability: boolean } {
  const stabilityNums = (number ?? "")
    .split(/[.-]/)
    .filter((s) => s !== "")
    .map(Number);
  if (word && word.toLowerCase() === "stable") {
    return { version: { nums, stability: STABILITY.stable, stabilityNums: [], dev: false }, explicitStability: true };
  }
  if (word) return { version: { nums, stability: expandStability(word), stabilityNums, dev: Boolean(dev) }, explicitStability: true };
  if (dev) return { version: { nums, stability: STABILITY.dev, stabilityNums: [], dev: false }, explicitStability: true };
  return { version: { nums, stability: STABILITY.stable, stabilityNums: [], dev: false }, explicitStability: false };
}

/**
 * Normalize one version string the way Composer does, or return null when it is
 * not a version. `explicitStability` tells whether a stability was written (it
 * changes the meaning of `<` and `>=`).
 */
export function parseVersion(input: string): ParsedVersion | null {
  let v = input.trim();
  const alias = /^(\S+) +as +(\S+)$/.exec(v);
  if (alias) v = alias[1]!;
  v = v.replace(/@(?:stable|RC|beta|alpha|dev)$/i, "");
  if (["master", "trunk", "default"].includes(v)) v = `dev-${v}`;
  if (/^dev-/i.test(v)) return v.length > 4 ? { kind: "branch", name: `dev-${v.slice(4)}` } : null;
  const build = /^([^,\s+]+)\+\S+$/.exec(v);
  if (build) v = build[1]!;

  let m = CLASSIC.exec(v);
  if (m) {
    const nums = [m[1], m[2], m[3], m[4]].map((p) => (p ? Number(p.replace(".", "")) : 0));
    return { kind: "numeric", ...withModifier(nums, m[5], m[6], m[7]) };
  }
  m = DATE.exec(v);
  if (m) {
    const nums = m[1]!.split(/\D/).filter(Boolean).map(Number);
    return { kind: "numeric", ...withModifier(nums, m[2], m[3], m[4]) };
  }
  // Numeric branches: `1.0.x-dev`, `2.x-dev`.
  const devBranch = /^(.*?)[.-]?dev$/i.exec(v);
  if (devBranch) {
    const b = BRANCH_NUMERIC.exec(devBranch[1]!.trim());
    if (b) {
      const nums = [b[1], b[2], b[3], b[4]].map((p, i) => {
        if (p === undefined) return i === 0 ? 0 : BRANCH_MAX;
        const s = p.replace(".", "");
        return /^[xX*]$/.test(s) ? BRANCH_MAX : Number(s);
      });
      return { kind: "numeric", version: { nums, stability: STABILITY.dev, stabilityNums: [], dev: false }, explicitStability: true };
    }
  }
  return null;
}

function compareNums(a: number[], b: number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Total order on normalized versions (negative, 0, positive). */
export function compareVersions(a: Version, b: Version): number {
  const n = compareNums(a.nums, b.nums);
  if (n !== 0) return n;
  if (a.stability !== b.stability) return a.stability < b.stability ? -1 : 1;
  // `beta` < `beta0` < `beta1`: a missing number sorts first (PHP version_compare).
  const len = Math.max(a.stabilityNums.length, b.stabilityNums.length);
  for (let i = 0; i < len; i++) {
    const x = a.stabilityNums[i];
    const y = b.stabilityNums[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  if (a.dev !== b.dev) return a.dev ? -1 : 1;
  return 0;
}

export function formatVersion(v: Version): string {
  const base = v.nums.join(".");
  const st = STABILITY_NAMES[v.stability]!;
  if (st === "stable") return base;
  if (st === "dev") return `${base}-dev`;
  return `${base}-${st}${v.stabilityNums.join(".")}${v.dev ? "-dev" : ""}`;
}

// ---------------------------------------------------------------- interval algebra

const ALL: Range = { lo: null, hi: null };

function isEmptyRange(r: Range): boolean {
  if (!r.lo || !r.hi) return false;
  const c = compareVersions(r.lo.v, r.hi.v);
  return c > 0 || (c === 0 && !(r.lo.inclusive && r.hi.inclusive));
}

/** Compare two lower bounds: null is -infinity; at the same version the inclusive one is lower. */
function compareLo(a: Bound | null, b: Bound | null): number {
  if (!a || !b) return a === b ? 0 : a ? 1 : -1;
  const c = compareVersions(a.v, b.v);
  if (c !== 0) return c;
  return a.inclusive === b.inclusive ? 0 : a.inclusive ? -1 : 1;
}

/** Compare two upper bounds: null is +infinity; at the same version the inclusive one is higher. */
function compareHi(a: Bound | null, b: Bound | null): number {
  if (!a || !b) return a === b ? 0 : a ? -1 : 1;
  const c = compareVersions(a.v, b.v);
  if (c !== 0) return c;
  return a.inclusive === b.inclusive ? 0 : a.inclusive ? 1 : -1;
}

/** Sort, drop empty intervals and merge the ones that overlap or touch. */
export function normalizeRanges(ranges: Range[]): Range[] {
  const sorted = ranges.filter((r) => !isEmptyRange(r)).sort((a, b) => compareLo(a.lo, b.lo));
  const out: Range[] = [];
  for (const r of sorted) {
    const cur = out[out.length - 1];
    if (cur && touches(cur, r)) {
      if (compareHi(r.hi, cur.hi) > 0) cur.hi = r.hi;
    } else out.push({ ...r });
  }
  return out;
}

/** Does `b` (whose lower end is not below `a`'s) overlap or adjoin `a`? */
function touches(a: Range, b: Range): boolean {
  if (!a.hi || !b.lo) return true;
  const c = compareVersions(a.hi.v, b.lo.v);
  return c > 0 || (c === 0 && (a.hi.inclusive || b.lo.inclusive));
}

export function intersectRanges(a: Range[], b: Range[]): Range[] {
  const out: Range[] = [];
  for (const x of a) {
    for (const y of b) {
      const lo = compareLo(x.lo, y.lo) >= 0 ? x.lo : y.lo;
      const hi = compareHi(x.hi, y.hi) <= 0 ? x.hi : y.hi;
      out.push({ lo, hi });
    }
  }
  return normalizeRanges(out);
}

export function complementRanges(ranges: Range[]): Range[] {
  const norm = normalizeRanges(ranges);
  const out: Range[] = [];
  let from: Bound | null = null; // the lower end of the next gap; null = -infinity
  let open = true; // false once an interval runs to +infinity
  for (const r of norm) {
    if (r.lo) out.push({ lo: from, hi: { v: r.lo.v, inclusive: !r.lo.inclusive } });
    if (!r.hi) {
      open = false;
      break;
    }
    from = { v: r.hi.v, inclusive: !r.hi.inclusive };
  }
  if (open) out.push({ lo: from, hi: null });
  return normalizeRanges(out);
}

function contains(r: Range, v: Version): boolean {
  if (r.lo) {
    const c = compareVersions(v, r.lo.v);
    if (c < 0 || (c === 0 && !r.lo.inclusive)) return false;
  }
  if (r.hi) {
    const c = compareVersions(v, r.hi.v);
    if (c > 0 || (c === 0 && !r.hi.inclusive)) return false;
  }
  return true;
}

export function formatRanges(ranges: Range[]): string {
  if (ranges.length === 0) return "(nothing)";
  return ranges
    .map((r) => {
      const lo = r.lo ? `${r.lo.inclusive ? ">=" : ">"}${formatVersion(r.lo.v)}` : "";
      const hi = r.hi ? `${r.hi.inclusive ? "<=" : "<"}${formatVersion(r.hi.v)}` : "";
      return [lo, hi].filter(Boolean).join(" ") || "*";
    })
    .join(" || ");
}

// ---------------------------------------------------------------- constraints

const VERSION_RE = String.raw`v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?${MODIFIER}(?:\+\S+)?`;
const TILDE = new RegExp(`^~${VERSION_RE}$`, "i");
const CARET = new RegExp(String.raw`^\^${VERSION_RE}$`, "i");
const X_RANGE = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.[xX*])+$/;
const HYPHEN = new RegExp(String.raw`^(\S+) +- +(\S+)$`);
const MATCH_ALL = /^(v)?[xX*](\.[xX*])*$/i;
const COMPARATOR = /^(<>|!=|>=?|<=?|==?)?\s*(.*)$/;
/** Composer's AND separator: a comma or spaces, but not around a hyphen range, after an operator, or around `as`. */
const AND_SPLIT = /(?<!^|as|[=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|$)/;

function invalid(source: string, why: string): never {
  throw fail(`invalid version constraint "${source}": ${why}`, "use Composer constraint syntax, e.g. ^1.2, ~1.2.3, >=1.0 <2.0 or 1.0 - 2.0");
}

/** Composer's manipulateVersionString: zero the parts after `position`, add `increment` at it. */
function bump(parts: (string | undefined)[], position: number, increment: number): number[] {
  const nums = [0, 1, 2, 3].map((i) => Number(parts[i] ?? 0));
  for (let i = 3; i >= 0; i--) {
    if (i > position - 1) nums[i] = 0;
    else if (i === position - 1 && increment) nums[i]! += increment;
  }
  return nums;
}

const devOf = (nums: number[]): Version => ({ nums, stability: STABILITY.dev, stabilityNums: [], dev: false });
const ge = (v: Version): Bound => ({ v, inclusive: true });
const lt = (v: Version): Bound => ({ v, inclusive: false });

interface Atom {
  ranges: Range[];
  branches: string[];
  anyBranch: boolean;
}

const numeric = (...ranges: Range[]): Atom => ({ ranges: normalizeRanges(ranges), branches: [], anyBranch: false });

/** A lower bound from a `^`/`~`/hyphen operand: `-dev` of it unless it names its own stability. */
function lowerFrom(source: string, operand: string): Version {
  const p = parseVersion(operand);
  if (!p || p.kind !== "numeric") invalid(source, `"${operand}" is not a version`);
  return p.explicitStability ? p.version : devOf(p.version.nums);
}

function parseAtom(source: string, text: string): Atom {
  let c = text;
  const alias = /^(\S+) +as +(\S+)$/.exec(c);
  if (alias) c = alias[1]!;
  const flag = /^([^,\s]*?)@(stable|RC|beta|alpha|dev)$/i.exec(c);
  if (flag) c = flag[1] !== "" ? flag[1]! : "*";
  const ref = /^(dev-[^,\s@]+?|[^,\s@]+?\.x-dev)#.+$/i.exec(c);
  if (ref) c = ref[1]!;

  if (MATCH_ALL.test(c)) return { ranges: [ALL], branches: [], anyBranch: true };

  let m = TILDE.exec(c);
  if (m) {
    const position = m[4] ? 4 : m[3] ? 3 : m[2] ? 2 : 1;
    const high = bump([m[1], m[2], m[3], m[4]], Math.max(1, position - 1), 1);
    return numeric({ lo: ge(lowerFrom(source, c.slice(1))), hi: lt(devOf(high)) });
  }
  m = CARET.exec(c);
  if (m) {
    const position = m[1] !== "0" || !m[2] ? 1 : m[2] !== "0" || !m[3] ? 2 : 3;
    const high = bump([m[1], m[2], m[3], m[4]], position, 1);
    return numeric({ lo: ge(lowerFrom(source, c.slice(1))), hi: lt(devOf(high)) });
  }
  m = X_RANGE.exec(c);
  if (m) {
    const position = m[3] !== undefined ? 3 : m[2] !== undefined ? 2 : 1;
    const parts = [m[1], m[2], m[3]];
    const low = bump(parts, position, 0);
    const high = bump(parts, position, 1);
    const isZero = low.every((n) => n === 0);
    return numeric({ lo: isZero ? null : ge(devOf(low)), hi: lt(devOf(high)) });
  }
  m = HYPHEN.exec(c);
  if (m) {
    const from = lowerFrom(source, m[1]!);
    const to = parseVersion(m[2]!);
    if (!to || to.kind !== "numeric") invalid(source, `"${m[2]}" is not a version`);
    const parts = new RegExp(`^${VERSION_RE}$`, "i").exec(m[2]!);
    // A fully written upper end (x.y.z, or with a stability) is inclusive; a partial one
    // means "anything that starts like it": `- 2` is < 3, `- 2.0` is < 2.1.
    if (!parts || (parts[2] !== undefined && parts[3] !== undefined) || to.explicitStability) {
      return numeric({ lo: ge(from), hi: { v: to.version, inclusive: true } });
    }
    const high = bump([parts[1], parts[2], parts[3], parts[4]], parts[2] === undefined ? 1 : 2, 1);
    return numeric({ lo: ge(from), hi: lt(devOf(high)) });
  }

  m = COMPARATOR.exec(c);
  const op = m?.[1] || "=";
  const operand = m?.[2] ?? "";
  if (operand === "") invalid(source, "a version is missing");
  let parsed = parseVersion(operand);
  // Composer reads `foo-dev` as the branch `dev-foo`.
  if (!parsed && /-dev$/i.test(operand) && /^[0-9a-zA-Z./-]+$/.test(operand)) parsed = parseVersion(`dev-${operand.slice(0, -4)}`);
  if (!parsed) invalid(source, `"${operand}" is not a version`);
  if (parsed.kind === "branch") {
    // A branch admits no numeric version. `!=dev-x` excludes only that branch.
    if (op === "=" || op === "==") return { ranges: [], branches: [parsed.name], anyBranch: false };
    if (op === "!=" || op === "<>") return { ranges: [ALL], branches: [], anyBranch: false };
    return { ranges: [], branches: [], anyBranch: false };
  }
  const v = parsed.version;
  // `<2.0` and `>=1.0` without a stability mean below/from 2.0's and 1.0's dev versions (Composer).
  const edge = parsed.explicitStability ? v : devOf(v.nums);
  switch (op) {
    case "=":
    case "==":
      return numeric({ lo: ge(v), hi: { v, inclusive: true } });
    case "!=":
    case "<>":
      return numeric({ lo: null, hi: lt(v) }, { lo: { v, inclusive: false }, hi: null });
    case ">":
      return numeric({ lo: { v, inclusive: false }, hi: null });
    case ">=":
      return numeric({ lo: ge(edge), hi: null });
    case "<":
      return numeric({ lo: null, hi: lt(edge) });
    case "<=":
      return numeric({ lo: null, hi: { v, inclusive: true } });
  }
  return invalid(source, `unknown operator "${op}"`);
}

function andAtoms(a: Atom, b: Atom): Atom {
  let branches: string[];
  if (a.anyBranch) branches = b.branches;
  else if (b.anyBranch) branches = a.branches;
  else branches = a.branches.filter((x) => b.branches.includes(x));
  return { ranges: intersectRanges(a.ranges, b.ranges), branches, anyBranch: a.anyBranch && b.anyBranch };
}

/** Parse a Composer constraint; a malformed one is a GpmError (exit 1) naming it. */
export function parseConstraint(source: string): Constraint {
  const text = source.trim();
  if (text === "") invalid(source, "it is empty");
  const result: Constraint = { source, ranges: [], branches: [], anyBranch: false };
  for (const orPart of text.split(/\s*\|\|?\s*/)) {
    if (orPart === "") invalid(source, "an empty alternative around |");
    const atoms = orPart.split(AND_SPLIT).map((a) => parseAtom(source, a.trim()));
    const all = atoms.reduce(andAtoms);
    result.ranges = normalizeRanges([...result.ranges, ...all.ranges]);
    result.anyBranch ||= all.anyBranch;
    for (const b of all.branches) if (!result.branches.includes(b)) result.branches.push(b);
  }
  return result;
}

const asConstraint = (c: string | Constraint): Constraint => (typeof c === "string" ? parseConstraint(c) : c);

/** Does `version` (e.g. "3.0.0", "1.0.0-beta1", "dev-master") meet `constraint`? */
export function satisfies(version: string, constraint: string | Constraint): boolean {
  const c = asConstraint(constraint);
  const p = parseVersion(version);
  if (!p) throw fail(`"${version}" is not a version`, "versions look like 1.2.3, 1.2.3-beta1 or dev-branch");
  if (p.kind === "branch") return c.anyBranch || c.branches.includes(p.name);
  return c.ranges.some((r) => contains(r, p.version));
}

/** Do the two constraints admit a common version? */
export function intersects(a: string | Constraint, b: string | Constraint): boolean {
  const x = asConstraint(a);
  const y = asConstraint(b);
  if (intersectRanges(x.ranges, y.ranges).length > 0) return true;
  if ((x.anyBranch && (y.anyBranch || y.branches.length > 0)) || (y.anyBranch && x.branches.length > 0)) return true;
  return x.branches.some((br) => y.branches.includes(br));
}

/**
 * The conflict rule of the release feed's `conflicts` entries: a requirement
 * conflicts with `versions` when it admits at least one numeric version and
 * every version it admits lies inside `versions` (it does not intersect the
 * complement of `versions`). `^1.0` against `<3` conflicts; `^1.0 || ^3.0` does
 * not. A requirement that admits no numeric version at all (a branch like
 * `dev-master`) cannot be judged this way and is reported as not conflicting.
 */
export function conflictsWith(requirement: string | Constraint, versions: string | Constraint): boolean {
  const req = asConstraint(requirement);
  const range = asConstraint(versions);
  if (req.ranges.length === 0) return false;
  return intersectRanges(req.ranges, complementRanges(range.ranges)).length === 0;
}

/** True when the constraint admits no numeric version (only branches, or nothing). */
export function isBranchOnly(constraint: string | Constraint): boolean {
  return asConstraint(constraint).ranges.length === 0;
}
