import type { Argv, InferredOptionType, Options, PositionalOptions } from "yargs";
import type { Context, GlobalOptions } from "./context.js";
import type { CommandResult } from "./run.js";
import type { Session } from "./session.js";
import type { ExitCode } from "../util/errors.js";
import type { z } from "zod";
import type { Shapes } from "./documents.js";

/**
 * One spec per command (lib/cli/commands/*.ts), all registered with yargs up
 * front so help, usage errors and suggestions know every command; the code
 * that does the work is imported by `load` only when that command runs (a
 * command pulls in its whole pipeline: loading every one would cost each
 * start-up, `gpm rollback` included, a quarter of a second).
 *
 * mode
 *   write  the session takes the lock (exit 5 while another gpm holds it), repairs, migrates.
 *   read   the session locks only when there is something to repair (lib/cli/session.ts).
 *   none   no session: the command opens the installation itself, or never does.
 * A function picks read or write from the arguments (`self-upgrade --check` only reads).
 */
export type SessionMode = "read" | "write";
export type Mode = SessionMode | "none";

type Result = (zod: typeof z, shapes: Shapes) => z.ZodRawShape | z.ZodRawShape[];

/** `dry-run` → `dryRun`, as yargs also spells each option for the handler. */
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type Inferred<O> = { [K in keyof O as Camel<K & string>]: InferredOptionType<O[K] & Options> };

/** The arguments a command's handler receives: its positionals and options, typed from its spec, and the global options. */
export type ArgsOf<P, O> = Inferred<P> & Inferred<O> & GlobalOptions;

type Run<A, S> = (r: { ctx: Context; args: A } & S) => Promise<CommandResult>;

interface SpecCommon<P, O> {
  /** The command's word (`rollback`; `status` under `recovery`): written nowhere else. */
  name: string;
  describe: string;
  /** In the order they come on the command line; `demandOption: true` makes one required. */
  positionals?: P;
  options?: O;
  /** Shown by --help: `gpm …` command lines, each with what it does. */
  examples?: ReadonlyArray<readonly [command: string, what: string]>;
  /** Shown by --help: the exit codes this command can end with (SPEC section 4), besides 0. */
  exits?: Partial<Record<ExitCode, string>>;
  /** Argument checks that need no installation: run before the session (a usage error changes nothing, not even a repair). */
  validate?: (args: ArgsOf<P, O>) => void | Promise<void>;
  /**
   * Can the command change something? Its --json document then says
   * `changed: true|false` (the handler's result sets it). Default: mode write or a function.
   */
  changes?: boolean;
  /**
   * The fields its --json document adds to {apiVersion, ok, command, exitCode}
   * (lib/cli/documents.ts, docs/schema/); a list when the document has several forms.
   */
  result?: Result;
  /** `recovery status|enable|…`: each a spec of its own, named `<parent> <name>`. */
  subcommands?: readonly Command[];
}

export type CommandSpec<P, O> = SpecCommon<P, O> &
  (
    | { mode: "none"; load?: () => Promise<Run<ArgsOf<P, O>, unknown>> }
    | { mode: SessionMode | ((args: ArgsOf<P, O>) => SessionMode); load?: () => Promise<Run<ArgsOf<P, O>, { session: Session }>> }
  );

/** A spec with its argument types erased, as the registry holds it. */
export interface Command {
  readonly name: string;
  readonly describe: string;
  readonly positionals: Readonly<Record<string, PositionalOptions>>;
  readonly options: Readonly<Record<string, Options>>;
  readonly examples: ReadonlyArray<readonly [string, string]>;
  readonly exits: Partial<Record<ExitCode, string>>;
  readonly subcommands: readonly Command[];
  readonly changes: boolean;
  readonly result?: Result;
  /** Absent for a group (`recovery`) that only holds subcommands. */
  readonly run?: (fullName: string, argv: Record<string, unknown>) => Promise<void>;
}

export function defineCommand<P extends Record<string, PositionalOptions> = Record<never, PositionalOptions>, O extends Record<string, Options> = Record<never, Options>>(
  spec: CommandSpec<P, O>,
): Command {
  const load = spec.load;
  const changes = spec.changes ?? (spec.mode !== "read" && spec.mode !== "none");
  return {
    name: spec.name,
    describe: spec.describe,
    positionals: spec.positionals ?? {},
    options: spec.options ?? {},
    examples: spec.examples ?? [],
    exits: spec.exits ?? {},
    subcommands: spec.subcommands ?? [],
    changes,
    ...(spec.result ? { result: spec.result } : {}),
    run:
      load &&
      (async (fullName, argv) => {
        // The one place the parsed argv meets its type: yargs built it from these same positionals and options.
        const args = argv as ArgsOf<P, O>;
        const { runCommand } = await import("./run.js");
        await runCommand(fullName, args, { changes }, async (ctx) => {
          await spec.validate?.(args);
          if (spec.mode === "none") return (await (load as () => Promise<Run<ArgsOf<P, O>, unknown>>)())({ ctx, args });
          const mode = typeof spec.mode === "function" ? spec.mode(args) : spec.mode;
          const [run, { withInstallation }] = await Promise.all([(load as () => Promise<Run<ArgsOf<P, O>, { session: Session }>>)(), import("./session.js")]);
          return withInstallation(ctx, fullName, mode, (session) => run({ ctx, args, session }));
        });
      }),
  };
}

/** Register a command (and its subcommands) with yargs. A subcommand without examples or exit codes shows its parent's. */
export function register(y: Argv, c: Command, parent: readonly string[] = [], inherited?: Command): Argv {
  const path = [...parent, c.name];
  const words = [c.name, ...Object.entries(c.positionals).map(([k, p]) => (p.demandOption ? `<${k}>` : `[${k}]`))];
  const examples = c.examples.length ? c.examples : (inherited?.examples ?? []);
  const exits = Object.entries(Object.keys(c.exits).length ? c.exits : (inherited?.exits ?? {}));
  return y.command(
    words.join(" "),
    c.describe,
    (b) => {
      for (const [k, p] of Object.entries(c.positionals)) b.positional(k, p);
      b.options(c.options);
      for (const sub of c.subcommands) register(b, sub, path, c);
      if (!c.run) b.demandCommand(1, `name a ${c.name} action: ${c.subcommands.map((s) => s.name).join(", ")}`);
      for (const [cmd, what] of examples) b.example(cmd, what);
      b.epilogue(`Exit codes: 0 success${exits.map(([code, what]) => `; ${code} ${what}`).join("")}; 130/143 interrupted (docs/CLI.md)`);
      return b;
    },
    c.run ? (argv) => c.run!(path.join(" "), argv) : undefined,
  );
}
