/**
 * Targets, verdicts and the two renderings of the benchmark: bench/RESULTS.md
 * (a table per size, the machine) and a short console summary.
 */

/** Issue 14's targets (performance round 2). */
export const TARGETS = {
  downtimeMs: 50,
  /** Downtime is "flat" when the large release's is at most this much above the small one's. */
  flatSlackMs: 15,
  /** The swap window (manifest swapMs): renames only. */
  swapMs: 5,
  upgradeRatio: 0.7,
  rollbackMs: 250,
  /** `gpm status` and `gpm version`, whole process. */
  startupMs: 150,
  rssMB: 150,
  /** Peak RSS is "flat" when the 200k release's is at most this much above the 20k one's. */
  rssFlatSlackMB: 15,
};

/** Manifest phases in pipeline order; anything else the manifest holds is listed after them. */
const PHASES = ["download", "verify", "extract", "snapshot", "flush", "manifest", "plan", "journal", "swap", "postUpgrade", "smoke", "restore", "finalize"];
const NOTES = {
  download: "the zip linked into the stage (the feed is a file path) and hashed",
  verify: "sha256 compare (+ signature)",
  extract: "safe unzip on worker threads, every file hashed as written, files.json",
  snapshot: "user/ copied to the snapshot on a worker — concurrently with download → extract",
  flush: "`sync -f` of the snapshot's file system",
  manifest: "php version, plugin list, manifest",
  plan: "swap plan: top-level entries",
  journal: "plan journaled (one fsync)",
  swap: "renames — inside downtime",
  smoke: "built-in check (files present) + smokeCheck (null here) — inside downtime",
  finalize: "metadata, flag off, manifest — flag off is inside downtime",
};

const bestDowntime = (r) => (r.upgrade.downtimes.some((d) => d === null) ? null : Math.min(...r.upgrade.downtimes));
const baselineMs = (r) => (r.baseline.unzipMs === null ? null : r.baseline.unzipMs + r.baseline.cpMs);
const baselineCpuMs = (r) => (r.baseline.unzipCpuMs === null || r.baseline.cpCpuMs === null ? null : r.baseline.unzipCpuMs + r.baseline.cpCpuMs);
const maxRss = (r) => Math.max(r.upgrade.rssMB, r.rollback.rssMB, r.redo.rssMB);

/**
 * The size issue 3 defines the benchmark by ("a release of 20,000 files /
 * ~300 MB"): the self-upgrade ratio is a target there. The 2k release is
 * there to show that downtime stays flat; its ratio is reported, not judged:
 * a whole baseline of ~0.45 s is about what starting node and loading gpm
 * costs before any work (see `gpm status` in the report).
 */
const RATIO_SIZE = "20k";

/** One verdict per target and size (plus the cross-size flatness). */
export function evaluate(results) {
  const out = [];
  for (const r of results) {
    const base = baselineMs(r);
    const down = bestDowntime(r);
    out.push({ size: r.name, target: `downtime ≤ ${TARGETS.downtimeMs} ms`, value: `${down} ms`, pass: down !== null && down <= TARGETS.downtimeMs });
    const judged = r.name === RATIO_SIZE;
    out.push({
      size: r.name,
      target: judged ? `self-upgrade ≤ ${TARGETS.upgradeRatio} × baseline` : "self-upgrade vs baseline (shown, not a target)",
      value: base === null ? "no unzip on PATH" : `${s(r.upgrade.ms)} vs ${s(base)} (${(r.upgrade.ms / base).toFixed(2)}×)`,
      pass: base === null || !judged ? null : r.upgrade.ms <= TARGETS.upgradeRatio * base,
      shown: !judged,
    });
    out.push({ size: r.name, target: `rollback ≤ ${TARGETS.rollbackMs / 1000} s (whole process)`, value: s(r.rollback.ms), pass: r.rollback.ms <= TARGETS.rollbackMs });
    if (r.http) {
      const hb = r.http.baseline.curlMs === null || r.http.baseline.unzipMs === null ? null : r.http.baseline.curlMs + r.http.baseline.unzipMs + r.http.baseline.cpMs;
      out.push({
        size: r.name,
        target: judged ? `self-upgrade over HTTP ≤ ${TARGETS.upgradeRatio} × baseline (curl + unzip + cp -a)` : "self-upgrade over HTTP vs baseline (shown, not a target)",
        value: hb === null ? "no curl/unzip on PATH" : `${s(r.http.ms)} vs ${s(hb)} (${(r.http.ms / hb).toFixed(2)}×)`,
        pass: hb === null || !judged ? null : r.http.ms <= TARGETS.upgradeRatio * hb,
        shown: !judged,
      });
    }
    const sw = r.manifest.swapMs;
    out.push({ size: r.name, target: `swap window ≤ ${TARGETS.swapMs} ms (swapMs)`, value: sw === null || sw === undefined ? "n/a" : `${sw} ms`, pass: sw === null || sw === undefined ? null : sw <= TARGETS.swapMs });
    if (r.startup) {
      const st = Math.max(r.startup.version.ms, r.startup.status.ms);
      out.push({ size: r.name, target: `gpm version, gpm status ≤ ${TARGETS.startupMs / 1000} s (whole process)`, value: `${s(r.startup.version.ms)}, ${s(r.startup.status.ms)} (node -e 0: ${s(r.startup.node.ms)})`, pass: st <= TARGETS.startupMs });
    }
    const rss = maxRss(r);
    out.push({ size: r.name, target: `peak RSS ≤ ${TARGETS.rssMB} MB`, value: `${rss.toFixed(0)} MB`, pass: rss <= TARGETS.rssMB });
  }
  const small = results.find((r) => r.name === "2k");
  const large = results.find((r) => r.name === "20k");
  if (small && large) {
    const [a, b] = [bestDowntime(small), bestDowntime(large)];
    out.push({ size: "2k → 20k", target: `downtime flat (20k ≤ 2k + ${TARGETS.flatSlackMs} ms)`, value: `${a} → ${b} ms`, pass: a !== null && b !== null && b - a <= TARGETS.flatSlackMs });
  }
  // Scale (issue 14 target 3): 10x the files, gpm's time may grow no faster than the baseline's, its memory not at all.
  const huge = results.find((r) => r.name === "200k");
  if (large && huge) {
    const [b20, b200] = [baselineMs(large), baselineMs(huge)];
    const gpmGrowth = huge.upgrade.ms / large.upgrade.ms;
    const baseGrowth = b20 === null || b200 === null ? null : b200 / b20;
    out.push({
      size: "20k → 200k",
      target: "self-upgrade time grows no faster than the baseline's",
      value: `gpm ${s(large.upgrade.ms)} → ${s(huge.upgrade.ms)} (×${gpmGrowth.toFixed(1)}), baseline ${s(b20)} → ${s(b200)} (${baseGrowth === null ? "n/a" : `×${baseGrowth.toFixed(1)}`})`,
      pass: baseGrowth === null ? null : gpmGrowth <= baseGrowth,
    });
    const [r20, r200] = [maxRss(large), maxRss(huge)];
    out.push({ size: "20k → 200k", target: `peak RSS flat (200k ≤ 20k + ${TARGETS.rssFlatSlackMB} MB)`, value: `${r20.toFixed(0)} → ${r200.toFixed(0)} MB`, pass: r200 - r20 <= TARGETS.rssFlatSlackMB });
    const [s20, s200] = [large.manifest.swapMs, huge.manifest.swapMs];
    out.push({ size: "20k → 200k", target: `swap window flat (each ≤ ${TARGETS.swapMs} ms)`, value: `${s20 ?? "n/a"} → ${s200 ?? "n/a"} ms`, pass: s20 == null || s200 == null ? null : s20 <= TARGETS.swapMs && s200 <= TARGETS.swapMs });
    const [d20, d200] = [bestDowntime(large), bestDowntime(huge)];
    out.push({ size: "20k → 200k", target: `downtime flat (200k ≤ 20k + ${TARGETS.flatSlackMs} ms)`, value: `${d20} → ${d200} ms`, pass: d20 !== null && d200 !== null && d200 - d20 <= TARGETS.flatSlackMs });
  }
  return out;
}

const s = (ms) => (ms === null || ms === undefined ? "n/a" : `${(ms / 1000).toFixed(2)} s`);
const ms = (x) => (x === null || x === undefined ? "n/a" : `${Math.round(x)} ms`);
const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;
const n = (x) => x.toLocaleString("en-US");
const mark = (pass, shown = false) => (shown ? "shown" : pass === null ? "n/a" : pass ? "pass" : "**FAIL**");

function orderedPhases(timings) {
  const keys = Object.keys(timings ?? {});
  return [...PHASES.filter((k) => keys.includes(k)), ...keys.filter((k) => !PHASES.includes(k)).sort()];
}

/**
 * The critical path of the upgrade from its timings: the package branch
 * (download → verify → extract) and the user/ copy run side by side, the rest
 * one after the other. What the process spent outside the phases (node
 * start, preflight, feed, cleanup and pruning after finalize) is the rest.
 */
function criticalPath(t) {
  const pkg = (t.download ?? 0) + (t.verify ?? 0) + (t.extract ?? 0);
  const staged = Math.max(pkg, t.snapshot ?? 0);
  const after = ["flush", "manifest", "plan", "journal", "swap", "postUpgrade", "smoke", "finalize"].reduce((a, k) => a + (t[k] ?? 0), 0);
  return { pkg, staged, total: staged + after };
}

/** One sentence: the biggest phases, and what sits inside the downtime window. */
function whereTimeGoes(r) {
  const t = r.manifest.timings ?? {};
  const top = orderedPhases(t)
    .filter((k) => t[k] > 0)
    .sort((a, b) => t[b] - t[a])
    .slice(0, 3)
    .map((k) => `${k} ${n(t[k])} ms${k === "snapshot" ? " (concurrent with download → extract)" : ""}`);
  const inWindow = ["swap", "postUpgrade", "smoke"].filter((k) => t[k] !== undefined).map((k) => `${k} ${t[k]} ms`);
  return `${top.join(", ")}; inside the ${r.manifest.downtimeMs} ms downtime of that round: ${inWindow.join(", ")} (+ flag, journal commit, metadata).`;
}

function sizeSection(r, verdicts) {
  const t = r.manifest.timings ?? {};
  const cp = criticalPath(t);
  const lines = [];
  lines.push(`## ${r.name}: release ${n(r.release.files)} files / ${mb(r.release.bytes)} (zip ${mb(r.release.zipBytes)}), user/ ${n(r.user.files)} files / ${mb(r.user.bytes)}`);
  lines.push("");
  lines.push("Manifest timings of the upgrade (`snapshots/<id>/manifest.json`):");
  lines.push("");
  lines.push("| phase | ms | what |");
  lines.push("|---|--:|---|");
  for (const k of orderedPhases(t)) lines.push(`| ${k} | ${n(t[k])} | ${NOTES[k] ?? ""} |`);
  lines.push(`| *critical path* | ${n(cp.total)} | max(download+verify+extract = ${n(cp.pkg)}, snapshot = ${n(t.snapshot ?? 0)}) + the phases after it |`);
  lines.push(`| *outside the phases* | ${n(Math.round(r.upgrade.ms - cp.total))} | whole process − critical path: node start, config, feed, preflight, cleanup and pruning after finalize |`);
  lines.push("");
  lines.push(`Where the time goes: ${whereTimeGoes(r)}`);
  lines.push("");
  const v = (target) => verdicts.find((x) => x.size === r.name && x.target.startsWith(target));
  const base = baselineMs(r);
  const baseCpu = baselineCpuMs(r);
  const row = (what, wall, cpu, target = "", result = "") => lines.push(`| ${what} | ${wall} | ${cpu === undefined ? "" : s(cpu)} | ${target} | ${result} |`);
  lines.push("| measure | wall | CPU | target | result |");
  lines.push("|---|--:|--:|---|---|");
  row(`downtime, maintenance flag on → off (rounds: ${r.upgrade.downtimes.join(", ")} ms)`, ms(bestDowntime(r)), undefined, `≤ ${TARGETS.downtimeMs} ms`, mark(v("downtime").pass));
  row(
    `\`gpm self-upgrade\`, whole process (rounds: ${r.upgrade.all.map((x) => (x / 1000).toFixed(1)).join(", ")} s)`,
    s(r.upgrade.ms),
    r.upgrade.cpuMs,
    v("self-upgrade").shown ? "(judged at 20k only)" : `≤ ${TARGETS.upgradeRatio} × baseline${base === null ? "" : ` = ${s(TARGETS.upgradeRatio * base)}`}`,
    `${mark(v("self-upgrade").pass, v("self-upgrade").shown)}${base === null ? "" : ` (${(r.upgrade.ms / base).toFixed(2)}×; CPU ${baseCpu === null || r.upgrade.cpuMs === null ? "n/a" : `${(r.upgrade.cpuMs / baseCpu).toFixed(2)}×`})`}`,
  );
  row("baseline: `unzip -q` the release", s(r.baseline.unzipMs), r.baseline.unzipCpuMs);
  if (r.http) {
    row(`\`gpm self-upgrade\` over loopback HTTP, whole process (rounds: ${r.http.all.map((x) => (x / 1000).toFixed(1)).join(", ")} s; download ${ms(r.http.manifest.timings?.download)}, swapMs ${ms(r.http.manifest.swapMs)})`, s(r.http.ms), r.http.cpuMs, "", mark(v("self-upgrade over HTTP").pass, v("self-upgrade over HTTP").shown));
    row("HTTP baseline: `curl -s -o` the zip + `unzip -q` + `cp -a user/`", `${s(r.http.baseline.curlMs)} + ${s(r.http.baseline.unzipMs)} + ${s(r.http.baseline.cpMs)}`);
  }
  row("baseline: `cp -a user/`", s(r.baseline.cpMs), r.baseline.cpCpuMs);
  row("(baseline's dirty pages: `sync` afterwards, not counted)", s(r.baseline.syncMs));
  row(`\`gpm rollback\`, whole process (best of ${r.rollback.samples})`, s(r.rollback.ms), r.rollback.cpuMs, `≤ ${TARGETS.rollbackMs / 1000} s`, mark(v("rollback").pass));
  row("rollback downtime", ms(r.rollback.downtimeMs));
  row(`\`gpm rollback <id>\` (redo), whole process (best of ${r.redo.samples})`, s(r.redo.ms), r.redo.cpuMs);
  row("redo downtime", ms(r.redo.downtimeMs));
  row("`gpm status`, whole process (the start-up floor of any command)", s(r.status.ms), r.status.cpuMs);
  if (r.startup) {
    const st = v("gpm version");
    row(`start-up: \`node -e 0\`, whole process (min of ${r.startup.runs})`, s(r.startup.node.ms), r.startup.node.cpuMs);
    row(`start-up: \`gpm version\`, whole process (min of ${r.startup.runs})`, s(r.startup.version.ms), r.startup.version.cpuMs, `≤ ${TARGETS.startupMs / 1000} s`, mark(st.pass));
    row(`start-up: \`gpm status\`, whole process (min of ${r.startup.runs})`, s(r.startup.status.ms), r.startup.status.cpuMs, `≤ ${TARGETS.startupMs / 1000} s`, mark(st.pass));
  }
  row("swap window (manifest swapMs, fastest upgrade)", ms(r.manifest.swapMs), undefined, `≤ ${TARGETS.swapMs} ms`, mark(v("swap window").pass));
  row("peak RSS: self-upgrade / rollback / redo", `${[r.upgrade.rssMB, r.rollback.rssMB, r.redo.rssMB].map((x) => x.toFixed(0)).join(" / ")} MB`, undefined, `≤ ${TARGETS.rssMB} MB`, mark(v("peak RSS").pass));
  lines.push("");
  return lines.join("\n");
}

export function renderMarkdown({ machine: m, results, verdicts, seconds, skipped = [] }) {
  const lines = [];
  lines.push("# Benchmark results");
  lines.push("");
  lines.push(`Written by \`npm run bench\` (bench/run.mjs) on ${m.date}, in ${seconds.toFixed(0)} s.`);
  lines.push("");
  lines.push(`Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memGiB.toFixed(1)} GiB RAM, ${m.os}, Node ${m.node}; work folder \`${m.work}\` on ${m.fsType};`);
  lines.push(`1-minute load average ${m.load.start.toFixed(1)} at the start, ${m.load.end.toFixed(1)} at the end${m.load.start > m.nproc || m.load.end > m.nproc ? " (**a busy machine: other processes shared the CPUs, so every figure is inflated**)" : ""};`);
  lines.push(`gpm ran ${m.asRoot ? "as root, so it also chowns the staged tree to the live owners (SPEC section 5) — part of `plan`" : "as a normal user (no chown of the staged tree)"}.`);
  lines.push("");
  lines.push("Setup: a Grav-like site at 1.7.48 (core of the same shape as the release, a user/ of pages, images, plugins");
  lines.push("and a theme, a 500-file cache/) upgraded to 1.8.0 by the real CLI (`node bin/gpm … --json`). Each size runs a few rounds of");
  lines.push("baseline, self-upgrade, rollback and redo; each figure is the minimum over the rounds (the manifest timings");
  lines.push("are those of the fastest upgrade), peak RSS the maximum. CPU is user + system time of the process (gpm's");
  lines.push("own via getrusage, the baseline's via /usr/bin/time): on a shared machine it is steadier than wall time.");
  lines.push("Small files are text (deflate ~3:1), large ones random bytes (4 MiB each, incompressible); the zip is built");
  lines.push("with archiver at the default level 6. **The feed is a file path**, so `download` is the zip hard-linked into the");
  lines.push("stage and hashed (same file system, owned by gpm's user), not a network transfer. `smokeCheck` is `null`, so");
  lines.push("downtime measures the swap (plus gpm's built-in check that the new files are present). Between measurements");
  lines.push("`sync` is run, so no command pays for the writes of the one before, and nothing is deleted until the end: on");
  lines.push("ext4 without a journal, creating files within 60 s of a mass deletion is 2-3x slower (the kernel steps over");
  lines.push("recently freed inodes), which had made either side of the ratio depend on what ran before it. Peak RSS is");
  lines.push("gpm's own process, all threads (getrusage maxRSS via bench/rss-hook.mjs), not its children.");
  lines.push("");
  lines.push("The self-upgrade ratio is judged on the 20k release, the one issue 3 defines the benchmark by (20,000 files /");
  lines.push("~300 MB); the 2k release is there to show that downtime stays flat, and its ratio is shown: its whole baseline");
  lines.push("(~0.45 s) is about what any gpm command spends starting node and loading its modules (`gpm status` below).");
  lines.push("The 200k release (200,000 files, ~3 GB, generated for the run and deleted after) shows how time and memory");
  lines.push("grow with the release: one round, file feed only.");
  for (const x of skipped) lines.push(`**${x}.**`);
  lines.push("");
  lines.push("## Targets");
  lines.push("");
  lines.push("| size | target | value | result |");
  lines.push("|---|---|---|---|");
  for (const v of verdicts) lines.push(`| ${v.size} | ${v.target} | ${v.value} | ${mark(v.pass, v.shown)} |`);
  lines.push("");
  for (const r of results) lines.push(sizeSection(r, verdicts));
  return lines.join("\n");
}

export function renderConsole({ machine: m, results, verdicts }) {
  const lines = [];
  lines.push(`gpm benchmark — ${m.nproc} CPUs, Node ${m.node}, ${m.fsType}, load ${m.load.start.toFixed(1)} → ${m.load.end.toFixed(1)}, ${m.date}`);
  for (const r of results) {
    const t = r.manifest.timings ?? {};
    lines.push("");
    lines.push(`${r.name}: release ${n(r.release.files)} files / ${mb(r.release.bytes)} (zip ${mb(r.release.zipBytes)}), user/ ${n(r.user.files)} files / ${mb(r.user.bytes)}`);
    lines.push(`  timings (ms)   ${orderedPhases(t).map((k) => `${k} ${t[k]}`).join(", ")}`);
    lines.push(`  downtime       ${ms(bestDowntime(r))} (rounds ${r.upgrade.downtimes.join(", ")} ms; rollback ${ms(r.rollback.downtimeMs)}, redo ${ms(r.redo.downtimeMs)})`);
    lines.push(`  self-upgrade   ${s(r.upgrade.ms)} (best of ${r.rounds}; CPU ${s(r.upgrade.cpuMs)}); baseline ${s(baselineMs(r))} (unzip ${s(r.baseline.unzipMs)} + cp -a ${s(r.baseline.cpMs)}; CPU ${s(baselineCpuMs(r))})`);
    lines.push(`  rollback       ${s(r.rollback.ms)} (CPU ${s(r.rollback.cpuMs)}; redo ${s(r.redo.ms)}; gpm status ${s(r.status.ms)}, CPU ${s(r.status.cpuMs)})`);
    if (r.http) lines.push(`  over HTTP      self-upgrade ${s(r.http.ms)}; baseline curl ${s(r.http.baseline.curlMs)} + unzip ${s(r.http.baseline.unzipMs)} + cp -a ${s(r.http.baseline.cpMs)}`);
    if (r.startup) lines.push(`  start-up       node -e 0 ${s(r.startup.node.ms)}, gpm version ${s(r.startup.version.ms)}, gpm status ${s(r.startup.status.ms)} (min of ${r.startup.runs}); swapMs ${r.manifest.swapMs ?? "n/a"}`);
    lines.push(`  peak RSS       upgrade ${r.upgrade.rssMB.toFixed(0)} MB, rollback ${r.rollback.rssMB.toFixed(0)} MB, redo ${r.redo.rssMB.toFixed(0)} MB`);
  }
  lines.push("");
  lines.push("targets:");
  for (const v of verdicts) lines.push(`  ${v.shown ? "shown" : v.pass === null ? "n/a  " : v.pass ? "pass " : "FAIL "} ${v.size.padEnd(9)} ${v.target.padEnd(44)} ${v.value}`);
  return lines.join("\n");
}
