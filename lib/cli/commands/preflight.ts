import { defineCommand } from "../spec.js";

export const preflightCommand = defineCommand({
  name: "preflight",
  describe: "run every check of the upgrade to <version> (default: latest on the channel) without changing anything",
  positionals: { version: { type: "string", describe: "target version (1.8.0 or grav@1.8.0)" } },
  options: { "allow-downgrade": { type: "boolean", describe: "a target older than the installed version passes the version-policy check (as a warning)" } },
  mode: "read",
  examples: [
    ["gpm preflight", "check the upgrade to the latest release"],
    ["gpm preflight 1.7.0 --allow-downgrade", "check a downgrade"],
  ],
  exits: { 1: "error (not an installation, feed unreadable)", 3: "a check failed (a downgrade without --allow-downgrade included)", 6: "the feed failed its trust checks" },
  result: (z, s) => ({ installed: z.string().nullable(), target: z.string(), passed: z.boolean(), checks: z.array(s.check) }),
  load: async () => {
    const [{ requireInstalledVersion }, { runPreflight }, { resolveRelease }, { formatCheck }, { Exit }, { checkVersionPolicy }] = await Promise.all([
      import("../../install/installation.js"),
      import("../../preflight/index.js"),
      import("../../pipeline/resolve-release.js"),
      import("../../pipeline/self-upgrade.js"),
      import("../../util/errors.js"),
      import("../../preflight/version-policy.js"),
    ]);
    return async ({ ctx, args, session: { inst } }) => {
      const installed = await requireInstalledVersion(inst);
      const { release } = await resolveRelease(inst, args.version, ctx.log);
      const { cmp: _cmp, ...policy } = checkVersionPolicy(inst, installed, release.version, args.allowDowngrade === true);
      const checks = [policy, ...(await runPreflight({ inst, release, log: ctx.log, installed }))];
      const failed = checks.filter((c) => c.status === "fail");
      const warned = checks.filter((c) => c.status === "warn");
      return {
        code: failed.length ? Exit.BLOCKED : Exit.OK,
        data: { installed, target: release.version, passed: failed.length === 0, checks },
        lines: [
          `preflight ${installed ?? "(unknown)"} → ${release.version}`,
          ...checks.map(formatCheck),
          failed.length ? `${failed.length} check(s) failed: ${failed.map((c) => c.id).join(", ")}` : `all checks passed${warned.length ? ` (${warned.length} warning(s))` : ""}`,
        ],
      };
    };
  },
});
