import { defineCommand } from "../spec.js";
import type { Context } from "../context.js";
import type { MigrationPlan } from "../../migration/runner.js";
import type { PlannedStep } from "../../migration/types.js";

const stepLine = (s: PlannedStep): string => `  ${s.from}→${s.to} [${s.risk}] ${s.description}`;

/** `gpm migrate-installation [--dry-run]` (SPEC section 7). */
export const migrateInstallationCommand = defineCommand({
  name: "migrate-installation",
  describe: "bring the installation's own structure (.gpm/, records) to the current structure_version",
  options: { "dry-run": { type: "boolean", describe: "show the plan, change nothing" } },
  // Its own session: read or write is known only once the root has been looked at.
  mode: "none",
  changes: true,
  examples: [["gpm migrate-installation --dry-run", "show the plan"], ["gpm migrate-installation --yes", "apply it without asking"]],
  exits: { 1: "a step failed (rolled back) or confirmation needed", 5: "another gpm holds the lock" },
  result: (z) => {
    const step = z.looseObject({ from: z.number().int(), to: z.number().int(), risk: z.string(), description: z.string() });
    return { dryRun: z.boolean(), managed: z.boolean(), from: z.number().int(), to: z.number().int(), structure: z.number().int(), plan: z.array(step), applied: z.array(step) };
  },
  load: async () => {
    const [{ open }, { withInstallation }, { migrateInstallation, planMigrations }, { fail }] = await Promise.all([
      import("../context.js"),
      import("../session.js"),
      import("../../migration/runner.js"),
      import("../../util/errors.js"),
    ]);
    return async ({ ctx, args }) => {
      const dryRun = Boolean(args.dryRun);
      // The plan as it stands before the session: a write session applies the
      // pending `auto` steps first, and those belong in this command's report.
      const before = await planMigrations(await open(ctx));
      const report = (structure: number, applied: PlannedStep[]) => ({
        dryRun, managed: before.managed, from: before.current, to: before.target, structure, plan: before.steps, applied,
      });
      if (dryRun || before.steps.length === 0) {
        return withInstallation(ctx, "migrate-installation", "read", async () => {
          const data = report(before.current, []);
          if (before.steps.length === 0) return { changed: false, data, lines: [`structure is current (${before.current})`] };
          const head = before.managed ? `structure ${before.current} → ${before.target}:` : `unmanaged installation (no .gpm/metadata.json); adopting it means structure 0 → ${before.target}:`;
          return { changed: false, data, lines: [head, ...before.steps.map(stepLine), "dry run: nothing changed"] };
        });
      }
      // The yes comes before the session: without one nothing at all is applied —
      // not the `auto` steps every session applies first, not even a lock file.
      if (!(await confirm(ctx, before))) throw fail("structure migration not confirmed; nothing was changed", "run `gpm migrate-installation --yes` to apply it");
      return withInstallation(ctx, "migrate-installation", "write", async ({ inst }) => {
        const result = await migrateInstallation(inst, { log: ctx.log, confirm: async () => true });
        const applied = before.steps.filter((s) => s.to <= result.structure);
        return { changed: applied.length > 0, data: report(result.structure, applied), lines: [...applied.map((s) => `applied ${s.from}→${s.to}: ${s.description}`), `structure is now ${result.structure}`] };
      });
    };
  },
});

/** A yes from --yes or from a person at a TTY; without either it is an error, never a silent yes (SPEC section 4). */
async function confirm(ctx: Context, plan: MigrationPlan): Promise<boolean> {
  if (ctx.yes) return true;
  const [{ fail }, { default: readline }] = await Promise.all([import("../../util/errors.js"), import("node:readline/promises")]);
  if (!ctx.interactive) throw fail("structure migration needs confirmation: pass --yes", "see the plan with `gpm migrate-installation --dry-run`");
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    process.stderr.write(`structure ${plan.current} → ${plan.target}:\n${plan.steps.map(stepLine).join("\n")}\n`);
    const answer = await rl.question("apply these steps? [y/N] ");
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
