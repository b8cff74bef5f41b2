/**
 * Quoting for the three languages the wiring is printed in: POSIX shell words, the CSV record that
 * kubectl's `--exec-arg` parses (Go encoding/csv via pflag's StringSlice), and CEL string literals.
 */

/** POSIX shell word: bare when only safe characters, else single quotes with ' written as '\''. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * One CSV field that Go's encoding/csv reads back as exactly `value`. pflag's StringSlice (kubectl
 * `--exec-arg`) parses its value as one CSV record, so `a,b` would become two args and a bare `"` is a
 * parse error. An empty value must be quoted too: pflag turns an empty flag value into no element at all.
 */
export function csvQuote(value: string): string {
  if (value !== '' && !/[",\r\n]/.test(value)) return value;
  return `"${value.replace(/"/g, '""')}"`;
}

/**
 * Reads one record the way Go's encoding/csv Reader.Read does with the default settings
 * (comma ',', no comment character, LazyQuotes false, TrimLeadingSpace false), as pflag's readAsCSV
 * uses it. Returns undefined on the errors Go would report (bare or extraneous quote). Used to check
 * that a printed `--exec-arg` value really gives back the arg.
 */
export function readCsvRecord(text: string): string[] | undefined {
  if (text === '') return []; // pflag: an empty value is an empty slice
  // Go drops \r before \n (also inside quoted fields) and stops at the end of the first record.
  const input = text.replace(/\r\n/g, '\n');
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (input[i] === '"') {
      i++;
      for (;;) {
        if (i >= input.length) return undefined; // Go: extraneous or missing " in quoted-field
        const ch = input[i];
        if (ch === '"') {
          if (input[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += ch;
        i++;
      }
      if (i < input.length && input[i] !== ',' && input[i] !== '\n') return undefined;
    } else {
      while (i < input.length && input[i] !== ',' && input[i] !== '\n') {
        if (input[i] === '"') return undefined; // Go: bare " in non-quoted-field
        field += input[i];
        i++;
      }
    }
    fields.push(field);
    if (i >= input.length || input[i] === '\n') return fields;
    i++; // the comma
  }
}

/** A CEL string literal (single-quoted), escaping backslash, quotes and control characters. */
export function celString(value: string): string {
  let out = "'";
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}

/** CEL's reserved words (cel-spec langdef.md): cannot be used as a field name after `claims.`. */
const CEL_RESERVED = new Set([
  'true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if',
  'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while',
]);

/** `claims.name` when the claim name is a CEL identifier, else `claims['name']`. */
export function celClaim(name: string): string {
  if (/^[_a-zA-Z][_a-zA-Z0-9]*$/.test(name) && !CEL_RESERVED.has(name)) return `claims.${name}`;
  return `claims[${celString(name)}]`;
}
