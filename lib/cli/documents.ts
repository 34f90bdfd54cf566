import { z } from "zod";
import type { Command } from "./spec.js";
import { API_VERSION } from "./api-version.js";

/**
 * The --json contract (docs/schema/*.schema.json are generated from here by
 * `npm run schema`; a unit test fails when they are stale). Every document is
 * one of:
 *   success   {apiVersion, ok, command, exitCode, [changed], ...the command's own fields}
 *   failure   {apiVersion, ok: false, command, exitCode, [changed], error: {code, message, hint}, [details]}
 * A usage error (exit 2, before any command ran) is a failure with `command: null`.
 * Not imported at run time: zod's schemas cost start-up, and gpm writes these
 * documents, it does not need to read them.
 */

const error = z.object({ code: z.number().int(), message: z.string(), hint: z.string().nullable() });

/** Shapes several commands share. */
export const shapes = {
  check: z.object({ id: z.string(), status: z.enum(["pass", "warn", "fail"]), message: z.string(), fix: z.string().nullable() }),
  manifest: z.looseObject({ id: z.string(), kind: z.string(), from: z.string().nullable(), to: z.string(), status: z.string() }),
  /** What the start-of-command repair did, one sentence each. */
  repair: z.string(),
};

export type Shapes = typeof shapes;

/** The document `gpm <name> --json` prints, success or failure. */
export function documentSchema(c: Command, name: string): z.ZodType {
  const head = {
    apiVersion: z.literal(API_VERSION),
    command: z.literal(name),
    ...(c.changes ? { changed: z.boolean() } : {}),
  };
  const forms = c.result ? [c.result(z, shapes)].flat() : [{}];
  const success = forms.map((own) => z.object({ ...head, ok: z.literal(true), exitCode: z.literal(0), ...own }));
  // A finding with a non-zero exit (verify's drift, preflight's failed checks) is the command's own fields with ok: false.
  const finding = forms.map((own) => z.object({ ...head, ok: z.literal(false), exitCode: z.number().int().min(1), ...own }));
  const failure = z.object({ ...head, ok: z.literal(false), exitCode: z.number().int().min(1), error, details: z.unknown().optional() });
  return z.union([...success, failure, ...finding]);
}

/** A usage error: exit 2, printed before any command ran. */
export const usageErrorSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  ok: z.literal(false),
  command: z.null(),
  exitCode: z.literal(2),
  error,
});

/** Every command (subcommands as `<parent> <name>`) with its document schema. */
export function allDocuments(commands: Iterable<Command>): Map<string, z.ZodType> {
  const out = new Map<string, z.ZodType>();
  const walk = (c: Command, parent: string[]): void => {
    const name = [...parent, c.name].join(" ");
    if (c.run) out.set(name, documentSchema(c, name));
    for (const s of c.subcommands) walk(s, [...parent, c.name]);
  };
  for (const c of commands) walk(c, []);
  return out;
}

/** The JSON Schema files of docs/schema/, by file name. */
export function jsonSchemaFiles(commands: Iterable<Command>): Map<string, string> {
  const files = new Map<string, string>();
  const write = (file: string, title: string, s: z.ZodType): void => {
    const js = { $id: `https://gpm.invalid/schema/${file}`, title, ...z.toJSONSchema(s, { target: "draft-2020-12" }) };
    files.set(file, JSON.stringify(js, null, 2) + "\n");
  };
  for (const [name, s] of allDocuments(commands)) write(`${name.replace(/ /g, "-")}.schema.json`, `gpm ${name} --json`, s);
  write("usage-error.schema.json", "gpm --json: a usage error (exit 2)", usageErrorSchema);
  return files;
}
