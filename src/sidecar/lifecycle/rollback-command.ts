/**
 * `larder rollback <version> --sidecar <url>`: asks a running sidecar to
 * serve an earlier bundle version (POST /admin/rollback with the admin
 * token) and prints what it did. The sidecar's error, with its code, is
 * this command's error.
 */
import { ERROR_CATALOG, type ErrorCode, LarderError } from '../../core/errors.js';
import { type CommandSpec, type ParsedCommand, helpText, integer, nonEmpty, parseCommand } from '../../option-table.js';
import { ADMIN_ROLLBACK_ROUTE } from './admin.js';

export interface RollbackArgs {
  version: string;
  sidecar: string;
  adminToken: string;
}

export const ROLLBACK_COMMAND: CommandSpec<RollbackArgs> = {
  name: 'rollback',
  about: 'Rolls a running sidecar back to an earlier bundle version of its folder: POST /admin/rollback. It serves that version, across restarts too, until a version newer than any it accepted appears.',
  positionals: [{ key: 'version', name: 'version', required: true, description: 'The bundle version to serve (earlier than the one being served).' }],
  options: [
    {
      key: 'sidecar', flag: '--sidecar', env: 'LARDER_SIDECAR_URL', valueName: '<url>', defaultText: 'http://127.0.0.1:6566',
      description: "The sidecar's base URL.",
      parse: (raw) => (/^https?:\/\/[^\s]+$/.test(raw.trim()) ? raw.trim().replace(/\/+$/, '') : { invalid: 'must be an http:// or https:// URL' }),
    },
    {
      key: 'adminToken', flag: '--admin-token', env: 'LARDER_ADMIN_TOKEN', valueName: '<token>', defaultText: undefined,
      description: "The sidecar's --admin-token (prefer the variable, which stays out of the process list).",
      parse: nonEmpty('the admin token'),
    },
  ],
};

export function parseRollbackArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand<RollbackArgs> {
  return parseCommand(ROLLBACK_COMMAND, argv, env);
}

const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERROR_CATALOG, code);

const versionNumber = integer(1, Number.MAX_SAFE_INTEGER, 'a bundle version, an integer >= 1');

export async function run(argv: string[]): Promise<number> {
  const parsed = parseRollbackArgs(argv, process.env);
  if (parsed.help) {
    console.log(helpText(ROLLBACK_COMMAND));
    return 0;
  }
  const { sidecar, adminToken } = parsed.options;
  const version = versionNumber(parsed.options.version);
  if (typeof version !== 'number') throw new LarderError('LARDER_ERR_USAGE', `<version> ${version.invalid}, got ${JSON.stringify(parsed.options.version)}`);
  let res: Response;
  try {
    res = await fetch(`${sidecar}${ADMIN_ROLLBACK_ROUTE}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ version }),
    });
  } catch (e) {
    throw new LarderError('LARDER_ERR_OPTION', `--sidecar (LARDER_SIDECAR_URL): cannot reach ${sidecar}: ${(e as Error).message}`, { cause: e });
  }
  const body = (await res.json().catch(() => undefined)) as { project?: string; from?: number; to?: number; error?: { code?: string; message?: string } } | undefined;
  if (!res.ok) {
    const code = body?.error?.code;
    throw new LarderError(code !== undefined && isErrorCode(code) ? code : 'LARDER_ERR_INTERNAL', `the sidecar answered ${res.status}: ${body?.error?.message ?? 'no error message'}`);
  }
  console.log(`${body?.project} rolled back from v${body?.from} to v${body?.to} at ${sidecar}`);
  return 0;
}
