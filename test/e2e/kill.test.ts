import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { makeSite, releaseTree, runGpm, REPO } from "../helpers/fixtures.js";
import { buildSites } from "../helpers/sites.js";
import { KILL_POINTS } from "../../lib/util/seams.js";
import { cloneSite, liveState, userState, gpmStatus, assertCleanState, stateDiff, pool, type State } from "./crash-fixtures.js";

/**
 * Issue 4, kill tests: the real CLI is SIGKILLed right after each named step
 * (GPM_TEST_KILL_AT) of stage, promote, restore, rollback, finalize, retention
 * and recovery; then `gpm status` runs (recovery first), and the tree must be
 * wholly the one before the command or wholly the one after it — compared
 * entry by entry with a reference tree — with user/ byte-identical and gpm's
 * own state clean. Every kill point in lib/ must be exercised here.
 */

const POST_UPGRADE = `#!/usr/bin/env node
// A release's own post-upgrade step that changes user/: undo must put user/ back.
import fs from "node:fs";
fs.appendFileSync("user/config/site.yaml", "migrated: true\\n");
fs.writeFileSync("user/migrated-by-post-upgrade.txt", "x\\n");
// And a new top-level entry, as a Composer run leaves: undo moves it into the snapshot.
fs.mkdirSync("left-by-post-upgrade", { recursive: true });
fs.writeFileSync("left-by-post-upgrade/autoload.php", "x\\n");
`;

type Expect = "before" | "after";
type Template = "T0" | "T0p" | "T0pl" | "T1" | "T1k" | "T1w";

/** Written in T1w's user/ after its upgrade: a rollback keeps it live, --with-user puts it into the snapshot. */
const AFTER_PAGE = "pages/02.after-upgrade/default.md";

interface Scenario {
  name: string;
  /**
   * T0: unmanaged 1.7.48 site; T0p: with a postUpgrade step; T0pl: T0p whose user/ is a link to a folder
   * outside the root (../shared-user); T1: T0 upgraded to 1.8.0; T1k: T1 with keep 1; T1w: T1 with a page
   * written after the upgrade.
   */
  template: Template;
  /** `$FEED` is replaced by the feed's path, `$ID` by the id of the template's (first) snapshot. */
  args: string[];
  env?: Record<string, string>;
  /** Exit code of the command when nobody kills it (proves the scenario takes the path it names). */
  cleanExit: number;
  /** Run before the killed command; each must be SIGKILLed (`flag` writes a dead run's maintenance flag). */
  setup?: { args: string[]; env: Record<string, string> }[];
  /** Version `gpm status` must report for each outcome. */
  versions: Record<Expect, string>;
  /** Kill point → which whole tree the next command must find. */
  points: Record<string, Expect>;
  /** What else must hold of each outcome (gpm's own state that the tree comparison leaves out: a pin). */
  check?: (root: string, expect: Expect) => Promise<void>;
}

const manifestOf = async (root: string): Promise<{ pinned?: boolean; id: string }> => {
  const id = (await fsp.readdir(path.join(root, "snapshots"))).filter((n) => !n.startsWith(".")).sort()[0]!;
  return JSON.parse(await fsp.readFile(path.join(root, "snapshots", id, "manifest.json"), "utf8"));
};

/** rollback --with-user: done, the snapshot holding the replaced user/ (with the page) is pinned; not done, nothing is. */
const withUserCheck = async (root: string, expect: Expect): Promise<void> => {
  const m = await manifestOf(root);
  assert.equal(m.pinned === true, expect === "after", `pinned after a --with-user rollback, and only then (${expect})`);
  const inSnapshot = await fsp.readFile(path.join(root, "snapshots", m.id, "user", AFTER_PAGE), "utf8").catch(() => null);
  const live = await fsp.readFile(path.join(root, "user", AFTER_PAGE), "utf8").catch(() => null);
  assert.equal(expect === "after" ? inSnapshot : live, "written after the upgrade\n", "the page is wholly in one place: live before, in the pinned snapshot after");
  assert.equal(expect === "after" ? live : inSnapshot, null);
};

const UPGRADE = ["self-upgrade", "--version", "1.8.0", "--feed", "$FEED"];

/** Every kill point of a rollback's swap and finish, and which tree it must leave (both rollback scenarios). */
const ROLLBACK_POINTS: Record<string, Expect> = {
  "rollback:journal-written": "before",
  "rollback:flag-raised": "before",
  "rollback:moves-applied": "before",
  "rollback:committed": "after",
  "rollback:metadata-written": "after",
  "rollback:flag-lowered": "after",
  "rollback:manifest-written": "after",
  "rollback:records-written": "after",
  "rollback:journal-removed": "after",
};

const SCENARIOS: Scenario[] = [
  {
    name: "upgrade 1.7.48 → 1.8.0",
    template: "T0",
    args: UPGRADE,
    cleanExit: 0,
    versions: { before: "1.7.48", after: "1.8.0" },
    points: {
      "lock:acquired": "before",
      "stage:dir-created": "before",
      "stage:downloaded": "before",
      "stage:extracting": "before",
      "stage:extracted": "before",
      "stage:user-copied": "before",
      "stage:flushed": "before",
      "stage:manifest-written": "before",
      "promote:planned": "before",
      "upgrade:journal-written": "before",
      "upgrade:flag-raised": "before",
      "upgrade:moves-applied": "before",
      "promote:smoke-passed": "before",
      "upgrade:committed": "after",
      "finalize:metadata-written": "after",
      "finalize:flag-lowered": "after",
      "finalize:manifest-written": "after",
      "finalize:records-written": "after",
      "finalize:journal-removed": "after",
      "finalize:leftovers-removed": "after",
    },
  },
  {
    name: "upgrade whose smoke check fails (undo)",
    template: "T0",
    args: ["self-upgrade", "--version", "1.8.1", "--feed", "$FEED"],
    cleanExit: 4,
    versions: { before: "1.7.48", after: "1.7.48" },
    points: { "upgrade:undoing": "before", "upgrade:undo-move": "before", "upgrade:undo-flag-lowered": "before", "promote:restored": "before" },
  },
  {
    name: "upgrade with a postUpgrade step that changes user/",
    template: "T0p",
    args: ["self-upgrade", "--version", "1.8.3", "--feed", "$FEED"],
    cleanExit: 0,
    versions: { before: "1.7.48", after: "1.8.3" },
    points: { "promote:post-upgrade-started": "before", "promote:post-upgrade-done": "before", "promote:smoke-passed": "before" },
  },
  {
    name: "postUpgrade, then the smoke check fails (user/ put back from the snapshot)",
    template: "T0p",
    args: ["self-upgrade", "--version", "1.8.4", "--feed", "$FEED"],
    cleanExit: 4,
    versions: { before: "1.7.48", after: "1.7.48" },
    points: { "restore:appeared-moved": "before", "restore:user-moved-aside": "before", "restore:user-restored": "before" },
  },
  {
    name: "postUpgrade on a linked user/ (outside the root), then the smoke check fails (content put back behind the link)",
    template: "T0pl",
    args: ["self-upgrade", "--version", "1.8.4", "--feed", "$FEED"],
    cleanExit: 4,
    versions: { before: "1.7.48", after: "1.7.48" },
    points: {
      "restore:appeared-moved": "before",
      "restore:user-entry-aside": "before",
      "restore:user-entry-aside#3": "before",
      "restore:user-contents-aside": "before",
      "restore:user-entry-restored": "before",
      "restore:user-entry-restored#3": "before",
      "restore:user-restored": "before",
      "upgrade:undo-flag-lowered": "before",
    },
  },
  {
    name: "recovery of a linked user/ restore killed half-way, itself killed",
    template: "T0pl",
    setup: [{ args: ["self-upgrade", "--version", "1.8.4", "--feed", "$FEED"], env: { GPM_TEST_KILL_AT: "restore:user-entry-restored#2" } }],
    args: ["status"],
    cleanExit: 0,
    versions: { before: "1.7.48", after: "1.7.48" },
    points: { "restore:user-entry-restored": "before", "restore:user-restored": "before", "recover:journal-done": "before" },
  },
  {
    name: "upgrade across devices (copy fallback, GPM_TEST_EXDEV)",
    template: "T0",
    args: UPGRADE,
    env: { GPM_TEST_EXDEV: "1" },
    cleanExit: 0,
    versions: { before: "1.7.48", after: "1.8.0" },
    points: { "upgrade:copy-journaled": "before", "upgrade:copy-placed": "before", "upgrade:moves-applied": "before" },
  },
  {
    name: "upgrade that prunes the oldest snapshot (keep 1)",
    template: "T1k",
    args: ["self-upgrade", "--version", "1.8.2", "--feed", "$FEED"],
    cleanExit: 0,
    versions: { before: "1.8.0", after: "1.8.2" },
    points: { "retention:snapshot-moved-aside": "after" },
  },
  {
    name: "rollback 1.8.0 → 1.7.48",
    template: "T1",
    args: ["rollback"],
    cleanExit: 0,
    versions: { before: "1.8.0", after: "1.7.48" },
    points: {
      "lock:acquired": "before",
      ...ROLLBACK_POINTS,
    },
  },
  {
    name: "rollback --with-user (pins the snapshot holding the replaced user/)",
    template: "T1w",
    args: ["rollback", "--with-user"],
    cleanExit: 0,
    versions: { before: "1.8.0", after: "1.7.48" },
    points: {
      ...ROLLBACK_POINTS,
    },
    check: withUserCheck,
  },
  {
    name: "rollback --with-user whose last rename (the replaced user/ into the snapshot) fails (undo)",
    template: "T1w",
    args: ["rollback", "--with-user"],
    // T1's rollback: 6 core entries × 2 renames, user/ out and in (13, 14), then the 7 parked entries; the 21st is .swap-user → user.
    env: { GPM_TEST_FAIL_RENAME: "21" },
    cleanExit: 1,
    versions: { before: "1.8.0", after: "1.8.0" },
    points: { "rollback:undoing": "before", "rollback:undo-move": "before", "rollback:undo-move#14": "before", "rollback:undo-flag-lowered": "before" },
    check: withUserCheck,
  },
  {
    name: "snapshots pin",
    template: "T1",
    args: ["snapshots", "pin", "$ID"],
    cleanExit: 0,
    versions: { before: "1.8.0", after: "1.8.0" },
    points: { "lock:acquired": "before", "snapshots:pin-written": "after" },
    check: async (root, expect) => assert.equal((await manifestOf(root)).pinned === true, expect === "after", `pinned only once the write is made (${expect})`),
  },
  {
    name: "rollback whose third rename fails (undo)",
    template: "T1",
    args: ["rollback"],
    env: { GPM_TEST_FAIL_RENAME: "3" },
    cleanExit: 1,
    versions: { before: "1.8.0", after: "1.8.0" },
    points: { "rollback:undoing": "before", "rollback:undo-move": "before", "rollback:undo-flag-lowered": "before" },
  },
  {
    name: "rollback across devices (copy fallback)",
    template: "T1",
    args: ["rollback"],
    env: { GPM_TEST_EXDEV: "1" },
    cleanExit: 0,
    versions: { before: "1.8.0", after: "1.7.48" },
    // moves-applied: every entry was copied (a parked entry twice), and undo must find each copy.
    points: { "rollback:copy-journaled": "before", "rollback:copy-placed": "before", "rollback:moves-applied": "before" },
  },
  {
    name: "recovery of an upgrade killed mid-swap, itself killed",
    template: "T0",
    setup: [{ args: UPGRADE, env: { GPM_TEST_KILL_AT: "upgrade:moves-applied" } }],
    args: ["status"],
    cleanExit: 0,
    versions: { before: "1.7.48", after: "1.7.48" },
    points: { "upgrade:undoing": "before", "upgrade:undo-move": "before", "upgrade:undo-flag-lowered": "before", "recover:journal-done": "before", "recover:leftovers-removed": "before" },
  },
  {
    name: "recovery of a committed upgrade (finishes it), itself killed",
    template: "T0",
    setup: [{ args: UPGRADE, env: { GPM_TEST_KILL_AT: "upgrade:committed" } }],
    args: ["status"],
    cleanExit: 0,
    versions: { before: "1.7.48", after: "1.8.0" },
    points: { "finalize:metadata-written": "after", "finalize:journal-removed": "after", "recover:journal-done": "after" },
  },
  {
    name: "recovery of an interrupted rollback, itself killed",
    template: "T1",
    setup: [{ args: ["rollback"], env: { GPM_TEST_KILL_AT: "rollback:moves-applied" } }],
    args: ["status"],
    cleanExit: 0,
    versions: { before: "1.8.0", after: "1.8.0" },
    points: { "rollback:undo-move": "before", "recover:journal-done": "before" },
  },
  {
    name: "recovery of an abandoned stage, itself killed",
    template: "T0",
    setup: [{ args: UPGRADE, env: { GPM_TEST_KILL_AT: "stage:extracted" } }],
    args: ["status"],
    cleanExit: 0,
    versions: { before: "1.7.48", after: "1.7.48" },
    points: { "recover:leftovers-removed": "before" },
  },
  {
    name: "recovery of a maintenance flag left by a dead run, itself killed",
    template: "T0",
    setup: [{ args: ["flag"], env: {} }],
    args: ["status"],
    cleanExit: 0,
    versions: { before: "1.7.48", after: "1.7.48" },
    points: { "recover:flag-removed": "before" },
  },
];

interface Case {
  scenario: Scenario;
  point: string;
  expect: Expect;
  ran: boolean;
  error?: unknown;
}

const CASES: Case[] = SCENARIOS.flatMap((scenario) => Object.entries(scenario.points).map(([point, expect]) => ({ scenario, point, expect, ran: false })));

describe("e2e: kill at every step (GPM_TEST_KILL_AT)", function () {
  this.timeout(900_000);
  let feed = "";
  const templates = {} as Record<Template, string>;
  const refs = new Map<Scenario, { before: State; after: State; userBefore: State }>();

  const firstSnapshot = (root: string): string => fs.readdirSync(path.join(root, "snapshots")).filter((n) => !n.startsWith(".")).sort()[0]!;
  const argv = (s: Scenario, root: string): string[] => [...s.args.map((a) => (a === "$FEED" ? feed : a === "$ID" ? firstSnapshot(root) : a)), "--root", root];

  /** A clone of a template; T0pl's user/ links out of the root, so its whole folder (site/ and shared-user/) is cloned. */
  async function clone(t: Template): Promise<string> {
    if (t !== "T0pl") return cloneSite(templates[t]);
    return path.join(await cloneSite(path.dirname(templates[t])), "site");
  }
  /** What lies beside the root (a linked user/'s folder among it): nothing may appear or vanish there. */
  const besideRoot = (root: string): string[] => fs.readdirSync(path.dirname(root)).sort();

  /** A setup step; `flag` leaves the maintenance flag of a dead run. */
  async function runStep(root: string, st: { args: string[]; env: Record<string, string> }): Promise<void> {
    if (st.args[0] === "flag") {
      await fsp.writeFile(path.join(root, ".upgrading"), JSON.stringify({ startedAt: new Date().toISOString(), pid: 999999, from: "1.7.48", to: "1.8.0" }));
      return;
    }
    const r = await runGpm([...st.args.map((a) => (a === "$FEED" ? feed : a)), "--root", root], { env: st.env });
    assert.equal(r.signal, "SIGKILL", `setup ${st.args.join(" ")} ${JSON.stringify(st.env)} was not killed: exit ${r.code}: ${r.stderr}`);
  }

  async function runCase(c: Case): Promise<void> {
    const s = c.scenario;
    const ref = refs.get(s)!;
    const root = await clone(s.template);
    const beside = besideRoot(root);
    for (const st of s.setup ?? []) await runStep(root, st);
    const r = await runGpm(argv(s, root), { env: { ...s.env, GPM_TEST_KILL_AT: c.point } });
    assert.equal(r.signal, "SIGKILL", `the run did not reach ${c.point}: exit ${r.code}: ${r.stderr.trim().split("\n").slice(-6).join(" | ")}`);

    const status = await gpmStatus(root);
    await assertCleanState(root, status);
    const want = c.expect === "before" ? ref.before : ref.after;
    const got = await liveState(root);
    assert.deepEqual(got, want, `the tree is not wholly the one ${c.expect} the command: ${stateDiff(got, want)}`);
    if (c.expect === "before") assert.deepEqual(await userState(root), ref.userBefore, "user/ is byte-identical");
    assert.deepEqual(besideRoot(root), beside, "nothing appeared or vanished outside the root");
    assert.equal(status.installed, s.versions[c.expect], "the installed version matches the tree");
    await s.check?.(root, c.expect);
  }

  before(async function () {
    let base: string;
    ({ base, feed, T0: templates.T0, T1: templates.T1 } = await buildSites({
      prefix: "gpm-kill-",
      upgraded: true,
      releases: [
      { version: "1.8.0" },
      { version: "1.8.1", tree: releaseTree("1.8.1", { smokeExit: 1 }) },
      { version: "1.8.2" },
      { version: "1.8.3", tree: releaseTree("1.8.3", { extra: { "bin/post.mjs": POST_UPGRADE } }) },
      { version: "1.8.4", tree: releaseTree("1.8.4", { smokeExit: 1, extra: { "bin/post.mjs": POST_UPGRADE } }) },
      ],
    }));
    templates.T0p = path.join(base, "T0p");
    await makeSite(templates.T0p, "1.7.48", { config: { postUpgrade: ["node", "bin/post.mjs"] } });
    // user/ moved out of the root and linked back in (relative, so a clone of the folder holding both keeps working).
    templates.T0pl = path.join(base, "T0pl", "site");
    await makeSite(templates.T0pl, "1.7.48", { config: { postUpgrade: ["node", "bin/post.mjs"] } });
    await fsp.rename(path.join(templates.T0pl, "user"), path.join(base, "T0pl", "shared-user"));
    await fsp.symlink("../shared-user", path.join(templates.T0pl, "user"));
    templates.T1w = await cloneSite(templates.T1);
    await fsp.mkdir(path.dirname(path.join(templates.T1w, "user", AFTER_PAGE)), { recursive: true });
    await fsp.writeFile(path.join(templates.T1w, "user", AFTER_PAGE), "written after the upgrade\n");
    templates.T1k = await cloneSite(templates.T1);
    const cfgFile = path.join(templates.T1k, "gpm.json");
    await fsp.writeFile(cfgFile, JSON.stringify({ ...JSON.parse(await fsp.readFile(cfgFile, "utf8")), keep: 1 }, null, 2));

    // References: the template as it is ("before"), and after a clean run of setup + command ("after").
    await pool(SCENARIOS, 3, async (s) => {
      const before = await liveState(templates[s.template]);
      const userBefore = await userState(templates[s.template]);
      const root = await clone(s.template);
      for (const st of s.setup ?? []) await runStep(root, st);
      const r = await runGpm(argv(s, root), { env: s.env ?? {} });
      assert.equal(r.code, s.cleanExit, `${s.name}: the clean run exited ${r.code}: ${r.stderr}`);
      await assertCleanState(root, await gpmStatus(root));
      if (s.template === "T0pl") assert.ok((await fsp.lstat(path.join(root, "user"))).isSymbolicLink(), `${s.name}: user/ is still a link after the clean run`);
      await s.check?.(root, s.cleanExit === 0 ? "after" : "before");
      refs.set(s, { before, after: await liveState(root), userBefore });
    });

    // The cases are independent: run them a few at a time, then report each as its own test.
    await pool(CASES, 4, async (c) => {
      try {
        await runCase(c);
      } catch (err) {
        c.error = err;
      }
      c.ran = true;
    });
  });

  it("every killPoint() in lib/ is listed in KILL_POINTS, and every one is exercised here", async () => {
    const found = new Set<string>();
    const walk = async (dir: string): Promise<void> => {
      for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name.endsWith(".ts")) {
          for (const m of (await fsp.readFile(p, "utf8")).matchAll(/killPoint\(\s*(["'`])(.+?)\1\s*\)/g)) for (const n of expand(m[2]!)) found.add(n);
        }
      }
    };
    await walk(path.join(REPO, "lib"));
    const listed = new Set<string>(KILL_POINTS);
    for (const n of found) assert.ok(listed.has(n), `killPoint("${n}") is in lib/ but not in KILL_POINTS`);
    for (const n of listed) assert.ok(found.has(n), `KILL_POINTS lists "${n}" but no killPoint() in lib/ uses it`);
    const exercised = new Set(CASES.map((c) => c.point));
    for (const n of listed) assert.ok(exercised.has(n), `kill point ${n} is not exercised by any case`);
    console.log(`      ${listed.size} kill points in lib/, all exercised: ${CASES.length} kill cases in ${SCENARIOS.length} scenarios`);
  });

  for (const c of CASES) {
    it(`${c.scenario.name}: killed after ${c.point} → wholly ${c.expect === "before" ? "old" : "new"}, user/ intact`, () => {
      assert.ok(c.ran, "the case did not run");
      if (c.error) throw c.error;
    });
  }
});

/** `${j.kind}:${phase}` and the like: one name per transaction kind and phase. */
function expand(name: string): string[] {
  let out = [name];
  const subst = (re: RegExp, values: string[]): void => {
    out = out.flatMap((n) => (re.test(n) ? values.map((v) => n.replace(re, v)) : [n]));
  };
  subst(/\$\{[a-z]+\.kind\}/, ["upgrade", "rollback"]);
  subst(/\$\{phase\}/, ["committed", "undoing"]);
  assert.ok(out.every((n) => !n.includes("${")), `cannot expand the kill point template ${name}`);
  return out;
}
