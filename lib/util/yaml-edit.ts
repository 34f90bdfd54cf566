/**
 * YAML as Grav's config files and blueprints use it, read with a real parser
 * (the `yaml` package) instead of line regexes: flow style
 * (`- { name: grav, version: '>=1.7.41' }`), quoting, comments and nesting all
 * parse as YAML says. Edits splice the one value they change into the
 * original text, so the site owner's comments, order, quoting and line
 * endings stay exactly as they were.
 */
import { isMap, isScalar, parseDocument, type Document } from "yaml";

export type YamlRead = { ok: true; value: unknown } | { ok: false; error: string };

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function parse(text: string): Document.Parsed {
  // uniqueKeys off: Grav's parser (Symfony YAML) takes the last of duplicate keys rather than failing.
  return parseDocument(stripBom(text), { uniqueKeys: false, prettyErrors: false });
}

/** The document as plain JS, or the first parse error as one line. */
export function readYaml(text: string): YamlRead {
  const doc = parse(text);
  if (doc.errors.length > 0) return { ok: false, error: `not valid YAML (${doc.errors[0]!.message.split("\n")[0]})` };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (err) {
    return { ok: false, error: `not valid YAML (${(err as Error).message})` };
  }
}

/** A top-level key of a YAML mapping; undefined when absent or the text is not a mapping. */
export function topLevel(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * A YAML boolean as Grav sites write it: true/false, and also the YAML 1.1
 * words (on/off, yes/no) and 1/0 that older configs use; null when it is none
 * of them.
 */
export function yamlBool(v: unknown): boolean | null {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v === 1 ? true : v === 0 ? false : null;
  if (typeof v !== "string") return null;
  const s = v.trim().toLowerCase();
  if (["false", "off", "no", "0"].includes(s)) return false;
  if (["true", "on", "yes", "1"].includes(s)) return true;
  return null;
}

/**
 * Set the top-level `key: <bool>` of a YAML document, changing nothing else.
 * An existing scalar value is replaced in place (a comment after it stays);
 * without such a key a line is added at the top (after a leading `---`).
 * Throws (with a one-line message) when the text is not a YAML mapping, so a
 * file gpm cannot edit safely is never rewritten.
 */
export function setTopLevelBool(text: string, key: string, value: boolean): string {
  const out = spliceTopLevelBool(text, key, value);
  // Never write a file that no longer parses, or that says something else (an odd layout the splice misjudged).
  const check = readYaml(out);
  if (!check.ok || topLevel(check.value, key) !== value) throw new Error(`cannot set ${key} there without changing other settings`);
  return out;
}

function spliceTopLevelBool(text: string, key: string, value: boolean): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const bom = text.charCodeAt(0) === 0xfeff ? "\ufeff" : "";
  const body = stripBom(text);
  const doc = parse(body);
  if (doc.errors.length > 0) throw new Error(`not valid YAML (${doc.errors[0]!.message.split("\n")[0]})`);
  const line = `${key}: ${value}`;
  if (doc.contents === null) return `${bom}${body}${body === "" || body.endsWith("\n") ? "" : eol}${line}${eol}`;
  if (!isMap(doc.contents)) throw new Error("not a YAML mapping");
  // The last pair wins, as in Grav's parser: that is the one to change.
  const pair = [...doc.contents.items].reverse().find((p) => isScalar(p.key) && p.key.value === key);
  if (pair) {
    const node = pair.value;
    if (!isScalar(node) || !node.range) throw new Error(`its ${key} is not a plain value`);
    const [start, end] = node.range;
    return `${bom}${body.slice(0, start)}${value}${body.slice(end)}`;
  }
  const lines = body.split(/(?<=\n)/);
  const at = lines[0]?.trim() === "---" ? 1 : 0;
  lines.splice(at, 0, `${line}${eol}`);
  return bom + lines.join("");
}
