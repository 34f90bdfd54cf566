import { defineCommand } from "../spec.js";

export const versionCommand = defineCommand({
  name: "version",
  describe: "show gpm's version and the installed application version",
  mode: "none",
  examples: [["gpm version", "gpm's and the application's versions"]],
  result: (z) => ({ gpm: z.string(), application: z.string().nullable() }),
  load: async () => {
    const [{ GPM_VERSION, installedVersion }, { open }] = await Promise.all([import("../../install/installation.js"), import("../context.js")]);
    return async ({ ctx }) => {
      // The app's version is a bonus here: `gpm version` answers outside an installation too.
      const app = await open(ctx)
        .then(installedVersion)
        .catch(() => null);
      return { data: { gpm: GPM_VERSION, application: app }, lines: [`gpm ${GPM_VERSION}`, `application ${app ?? "(unknown)"}`] };
    };
  },
});
