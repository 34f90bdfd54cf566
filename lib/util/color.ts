/**
 * Color on a terminal only: never when NO_COLOR is set to anything but ""
 * (https://no-color.org), never when TERM is "dumb", never into a pipe or a
 * file, never inside --json (lib/cli/context.ts decides once per run). Off
 * until then, so library code and tests print plain text.
 */
let out = false;
let err = false;

/** Should text written to `stream` be colored? */
export function wantsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

export function setColor(o: { stdout: boolean; stderr: boolean }): void {
  out = o.stdout;
  err = o.stderr;
}

const sgr = (on: boolean, code: number, text: string): string => (on ? `\x1b[${code}m${text}\x1b[39m` : text);

/** For stdout (results). */
export const paint = {
  green: (t: string): string => sgr(out, 32, t),
  yellow: (t: string): string => sgr(out, 33, t),
  red: (t: string): string => sgr(out, 31, t),
};

/** For stderr (the error line). */
export const paintErr = {
  red: (t: string): string => sgr(err, 31, t),
};
