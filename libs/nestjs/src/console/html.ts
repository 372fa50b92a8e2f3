/**
 * HTML built from template literals, escaped by construction: every value interpolated into
 * {@link html} is escaped unless it is itself a {@link SafeHtml} made by `html`. Values go only
 * into text and quoted attribute values, never into tag or attribute names, `<script>` or `style`.
 */
export class SafeHtml {
  /** Made by {@link html}; never construct one from a value that came from outside. */
  constructor(private readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** Something `html` can interpolate: text and numbers are escaped, lists are joined, nullish is empty. */
export type HtmlValue =
  SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

/**
 * The tagged template of the console's views: `html\`<td>${name}</td>\`` escapes `name`.
 * Arrays are concatenated (each item escaped the same way); `null`, `undefined` and `false`
 * render nothing, so `${cond && html\`...\`}` works.
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.toString();
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}
