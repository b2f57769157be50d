/**
 * One option table per command, and the one machinery that reads it. A
 * command declares its positional arguments and its options (flag,
 * environment variable, default, description, value parser); from that list
 * come the parsing of argv and the environment, `--help` and the README's
 * table, so the three cannot disagree.
 *
 * Precedence: flag, then environment variable (an empty one counts as
 * unset), then default. Errors are LarderErrors: LARDER_ERR_USAGE for a
 * wrong command line (unknown flag, missing argument), LARDER_ERR_OPTION
 * for a missing or invalid value, naming the flag, its variable and where
 * the bad value came from.
 */
import { parseArgs } from 'node:util';
import { LarderError } from './core/errors.js';

/** What a value parser returns for text it refuses: the end of "--flag (ENV) ...". */
export type Invalid = { invalid: string };

/**
 * One option of a command that reads into `O`. (Written over the key and
 * value types rather than `O` itself so that a table can borrow another
 * command's entries: `demo` takes serve's.)
 */
export type OptionSpec<O extends object = Record<string, unknown>> = Option<keyof O & string, O[keyof O]>;

export interface Option<K extends string, V> {
  key: K;
  /** `--port`. */
  flag: string;
  /** `LARDER_PORT`. */
  env: string;
  /**
   * Placeholder shown in help, e.g. `<dir>`. Without one the option is a
   * switch: the bare flag means true, and its variable and default are
   * read by `parse` (see `switchValue`).
   */
  valueName?: string;
  /** The default as a user would write it, parsed like a given value; undefined = no default. */
  defaultText: string | undefined;
  /**
   * For an option without a default that may be left out: what happens
   * then (e.g. "all keys"); its value is then undefined. Without a default
   * and without this, the option is required.
   */
  whenUnset?: string;
  description: string;
  /** Turns the raw text into the value, or says why it is bad. */
  parse(raw: string): V | Invalid;
}

export interface PositionalSpec<O extends object = Record<string, unknown>> {
  key: keyof O & string;
  /** Shown as `<name>` when required, `[name]` when not. */
  name: string;
  /** Required positionals come before optional ones. */
  required: boolean;
  description: string;
}

export interface CommandSpec<O extends object = Record<string, unknown>> {
  /** The subcommand, e.g. `serve`. */
  name: string;
  /** What the command does; printed under the usage line. */
  about: string;
  positionals: readonly PositionalSpec<O>[];
  options: readonly OptionSpec<O>[];
}

export type ParsedCommand<O> = { help: true } | { help: false; options: O };

const isInvalid = (v: unknown): v is Invalid => typeof v === 'object' && v !== null && 'invalid' in v;
/** What help and tables read of an option, whatever its command. */
type OptionText = Omit<OptionSpec, 'key' | 'parse'>;
const flagName = (spec: OptionText): string => spec.flag.slice(2);
const isRequired = (spec: OptionText): boolean => spec.defaultText === undefined && spec.whenUnset === undefined;
const positionalText = (p: Pick<PositionalSpec, 'name' | 'required'>): string => (p.required ? `<${p.name}>` : `[${p.name}]`);

/**
 * Reads a command's arguments and options from argv and the environment.
 * Throws LarderError LARDER_ERR_USAGE or LARDER_ERR_OPTION (see above).
 */
export function parseCommand<O extends object>(
  command: CommandSpec<O>,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedCommand<O> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(command.options.map((s) => [flagName(s), { type: s.valueName === undefined ? ('boolean' as const) : ('string' as const) }])),
      },
      strict: true,
      allowPositionals: command.positionals.length > 0,
    }));
  } catch (e) {
    throw new LarderError('LARDER_ERR_USAGE', (e as Error).message, { cause: e });
  }
  if (values.help === true) return { help: true };

  const out: Record<string, unknown> = {};
  const required = command.positionals.filter((p) => p.required);
  if (positionals.length < required.length || positionals.length > command.positionals.length) {
    const expected = command.positionals.map(positionalText).join(' ');
    const missing = command.positionals[positionals.length];
    throw new LarderError(
      'LARDER_ERR_USAGE',
      positionals.length < required.length
        ? `missing ${positionalText(missing!)}: ${missing!.description}`
        : `expected ${expected}, got ${positionals.length} arguments: ${positionals.map((p) => JSON.stringify(p)).join(' ')}`,
    );
  }
  positionals.forEach((text, i) => (out[command.positionals[i]!.key] = text));

  for (const spec of command.options) {
    const fromFlag = values[flagName(spec)];
    const fromEnv = env[spec.env];
    if (fromFlag === true) {
      out[spec.key] = true;
      continue;
    }
    const [raw, where] =
      typeof fromFlag === 'string' ? [fromFlag, spec.flag]
      : fromEnv !== undefined && fromEnv !== '' ? [fromEnv, spec.env]
      : [spec.defaultText, 'the default'];
    if (raw === undefined) {
      if (isRequired(spec)) throw new LarderError('LARDER_ERR_OPTION', `${spec.flag} (or ${spec.env}) is required: ${spec.description}`);
      continue;
    }
    const value = spec.parse(raw);
    if (isInvalid(value)) {
      throw new LarderError('LARDER_ERR_OPTION', `${spec.flag} (${spec.env}) ${value.invalid}, got ${JSON.stringify(raw)} from ${where}`);
    }
    out[spec.key] = value;
  }
  return { help: false, options: out as O };
}

/** `usage: larder build <repo> --out <dir> [options]`: arguments, then the required options. */
function usageLine<O extends object>(command: CommandSpec<O>): string {
  const parts = [`larder ${command.name}`, ...command.positionals.map(positionalText)];
  for (const s of command.options) if (isRequired(s)) parts.push(`${s.flag} ${s.valueName ?? ''}`.trimEnd());
  parts.push('[options]');
  return `usage: ${parts.join(' ')}`;
}

const defaultHelp = (s: OptionText): string =>
  s.defaultText !== undefined ? `default ${s.defaultText}` : s.whenUnset !== undefined ? `default: ${s.whenUnset}` : 'required';

/** The command's `--help`: usage, what it does, every argument and option with its variable and default. */
export function helpText<O extends object>(command: CommandSpec<O>): string {
  const lines = [usageLine(command), '', command.about, ''];
  if (command.positionals.length > 0) {
    lines.push('arguments:');
    for (const p of command.positionals) lines.push(`  ${positionalText(p)}`, `      ${p.description}`);
    lines.push('');
  }
  lines.push('options (each can also be set by its environment variable; a flag wins over the variable):');
  for (const s of command.options) {
    lines.push(`  ${s.flag}${s.valueName === undefined ? '' : ` ${s.valueName}`}`, `      ${s.description}`, `      env ${s.env}; ${defaultHelp(s)}`);
  }
  lines.push('  -h, --help', '      print this help');
  return lines.join('\n');
}

/** Text safe inside a Markdown table cell (no HTML-looking tags, no column breaks). */
export const markdownCell = (text: string): string => text.replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');

/** The command's arguments and options as a Markdown table, for the README. */
export function optionsMarkdownTable<O extends object>(command: CommandSpec<O>): string {
  const lines = ['| Flag | Environment variable | Default | Description |', '| --- | --- | --- | --- |'];
  for (const p of command.positionals) {
    lines.push(`| \`${positionalText(p)}\` | | ${p.required ? '(required)' : '(none)'} | ${markdownCell(p.description)} |`);
  }
  for (const s of command.options) {
    const flag = s.valueName === undefined ? s.flag : `${s.flag} ${s.valueName}`;
    const def = s.defaultText !== undefined ? `\`${s.defaultText}\`` : s.whenUnset !== undefined ? markdownCell(s.whenUnset) : '(required)';
    lines.push(`| \`${flag}\` | \`${s.env}\` | ${def} | ${markdownCell(s.description)} |`);
  }
  return lines.join('\n');
}

// Value parsers shared by the option tables.

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const UNITS: Record<string, number> = { '': 1, b: 1, kib: KIB, mib: MIB, gib: GIB };

/** Bytes as digits with an optional binary unit: `1048576`, `512KiB`, `64MiB`. */
export function parseBytes(raw: string): number | undefined {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Whole numbers from `min` to `max`; `what` completes "must be ...". */
export function integer(min: number, max: number, what: string) {
  return (raw: string): number | Invalid => {
    const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) return { invalid: `must be ${what}` };
    return n;
  };
}

/** A byte count (see parseBytes) of at least `min`. */
export function bytes(min: number, what: string) {
  return (raw: string): number | Invalid => {
    const n = parseBytes(raw);
    if (n === undefined || n < min) return { invalid: `must be ${what}: a number of bytes, optionally with KiB, MiB or GiB (e.g. 64MiB)` };
    return n;
  };
}

/** Any text but blanks. */
export function nonEmpty(what: string) {
  return (raw: string): string | Invalid => (raw.trim() === '' ? { invalid: `must be ${what}` } : raw);
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** A switch's value from its variable or default: true/1/yes/on or false/0/no/off. */
export function switchValue(raw: string): boolean | Invalid {
  const t = raw.trim().toLowerCase();
  if (TRUE.has(t)) return true;
  if (FALSE.has(t)) return false;
  return { invalid: 'must be true or false (or 1/0, yes/no, on/off)' };
}
