/** The hidden fields of the page's POST form to `action` (the first one, or the one whose fields include `match`). */
export function formFields(html: string, action: string, match: Record<string, string> = {}): Record<string, string> {
  for (const f of html.matchAll(/<form method="post" action="([^"]*)">(.*?)<\/form>/g)) {
    if (f[1] !== action) continue;
    const fields = Object.fromEntries([...f[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, "&")]));
    if (Object.entries(match).every(([k, v]) => fields[k] === v)) return fields;
  }
  throw new Error(`no POST form to ${action} matching ${JSON.stringify(match)}`);
}
