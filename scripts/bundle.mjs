#!/usr/bin/env node
/**
 * `npm run build`, after tsc: the CLI bundled with esbuild into
 * dist/bundle/gpm/ (ESM, one file per entry point plus shared chunks, with
 * source maps back to lib/*.ts), which bin/gpm runs. tsc stays the type
 * checker and builds dist/lib/ and dist/test/ for the unit tests.
 *
 * Why: node spends most of a small command resolving and reading modules —
 * `gpm version` loaded 184 files (95 of them zod), `gpm status` 217. Bundled,
 * the same commands load a handful of files. Measured on this 2-core machine,
 * min of 10, load average ~10 (so absolute figures are ~3x a quiet machine's,
 * CPU time is the steadier one): `gpm version` CPU 270 → 190 ms, `gpm status
 * --json` CPU 340 → 220 ms (`node -e 0`: 50 ms).
 *
 * Entry points: the CLI, and the two worker modules (lib/util/worker-task.ts
 * starts workers from files): each lands at dist/bundle/gpm/<name>.js, beside
 * the chunk that starts it, so `new URL("./extract-worker.js",
 * import.meta.url)` finds it in either build. dist/bundle/gpm/ is three
 * levels below the package root, like dist/lib/install/, so GPM_VERSION's
 * `../../../package.json` holds. Dynamic imports stay split into chunks:
 * a command still loads only its own code (lib/cli/spec.ts).
 *
 * cli-progress stays a runtime require (lib/cli/context.ts loads it on the
 * first bar only), from the packed node_modules (bundleDependencies).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const OUT = path.join(REPO, "dist", "bundle", "gpm");

/**
 * zod's `export * as locales` pulls its 64 locales (~400 KB of the 755 KB zod
 * chunk) into every command that validates a state file; gpm speaks English
 * only (zod registers `en` itself, lib/… never names `z.locales`), so the
 * namespace is bundled empty.
 */
const zodWithoutLocales = {
  name: "zod-without-locales",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core|mini)$/.test(args.resolveDir) ? { path: "zod-locales", namespace: "zod-without-locales" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-without-locales" }, () => ({ contents: "export {};", loader: "js" }));
  },
};

await build({
  absWorkingDir: REPO,
  plugins: [zodWithoutLocales],
  entryPoints: { main: "lib/cli/main.ts", "extract-worker": "lib/stage/extract-worker.ts", "snapshot-user": "lib/stage/snapshot-user.ts" },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  // The CommonJS dependencies (pino, semver, yauzl, write-file-atomic) call require() for node's own modules.
  // write-file-atomic hashes __filename into its temporary names; pino's transports (unused) join __dirname.
  banner: { js: "import { createRequire as __gpmCreateRequire } from 'node:module'; const require = __gpmCreateRequire(import.meta.url); const __gpmFilename = import.meta.filename, __gpmDirname = import.meta.dirname;" },
  define: { __filename: "__gpmFilename", __dirname: "__gpmDirname" },
  logLevel: "warning",
  legalComments: "none",
});
