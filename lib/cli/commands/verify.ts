import { defineCommand } from "../spec.js";

export const verifyCommand = defineCommand({
  name: "verify",
  describe: "compare the live core files with the current manifest's hashes; list drift (exit 1 on drift)",
  mode: "read",
  examples: [["gpm verify", "re-hash the live core files"], ["gpm verify --json | jq '.drift'", "what differs"]],
  exits: { 1: "drift found, or nothing to verify against", 5: "another gpm is repairing" },
  result: (z) => ({ id: z.string(), version: z.string(), checked: z.number().int(), drift: z.array(z.object({ kind: z.string(), path: z.string() })) }),
  load: async () => {
    const [{ installedVersion }, { currentManifest }, { verifyTree }, { fail, Exit }] = await Promise.all([
      import("../../install/installation.js"),
      import("../../store/manifest.js"),
      import("../../promote/verify-tree.js"),
      import("../../util/errors.js"),
    ]);
    return async ({ session: { inst } }) => {
      const installed = await installedVersion(inst);
      const m = await currentManifest(inst, installed);
      if (!m) throw fail(`no finalized manifest describes the installed ${installed ?? "version"}`, "verify works on trees installed by `gpm self-upgrade`");
      const { checked, drift } = await verifyTree(inst, m);
      return {
        code: drift.length ? Exit.ERROR : Exit.OK,
        data: { id: m.id, version: m.to, checked, drift },
        lines: drift.length
          ? [...drift.map((d) => `${d.kind.padEnd(8)} ${d.path}`), `${drift.length} file(s) drifted from ${m.id} (${checked} checked)`]
          : [`${checked} core files match ${m.id} (${m.to})`],
      };
    };
  },
});
