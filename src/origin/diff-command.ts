/** `larder diff <old> <new> --out <file>`: writes the delta that turns bundle file <old> into <new> (src/core/bundle/delta.ts). */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { openBundle } from '../bundle-file.js';
import { diffBundles } from '../core/bundle/delta.js';
import { LarderError } from '../core/errors.js';
import { type CommandSpec, helpText, nonEmpty, parseCommand } from '../option-table.js';

export interface DiffArgs {
  oldFile: string;
  newFile: string;
  out: string;
}

export const DIFF_COMMAND: CommandSpec<DiffArgs> = {
  name: 'diff',
  about: 'Writes a delta from bundle <old> to bundle <new>: applied to <old> it gives exactly <new>, whose signature then verifies. Its size follows what changed. Both bundles are verified first.',
  positionals: [
    { key: 'oldFile', name: 'old', required: true, description: 'The bundle file a device holds.' },
    { key: 'newFile', name: 'new', required: true, description: 'The newer bundle file.' },
  ],
  options: [{ key: 'out', flag: '--out', env: 'LARDER_DIFF_OUT', valueName: '<file>', defaultText: undefined, description: 'The delta file to write.', parse: nonEmpty('a file path') }],
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(DIFF_COMMAND, argv, process.env);
  if (parsed.help) {
    console.log(helpText(DIFF_COMMAND));
    return 0;
  }
  const { oldFile, newFile, out } = parsed.options;
  const [a, b] = [await openBundle(oldFile), await openBundle(newFile)];
  if (a.manifest.project !== b.manifest.project) throw new LarderError('LARDER_ERR_ARGUMENT', `the bundles are of different projects (${a.manifest.project}, ${b.manifest.project})`);
  const delta = await diffBundles(new Uint8Array(await readFile(oldFile)), new Uint8Array(await readFile(newFile)), { sha256: async (x) => createHash('sha256').update(x).digest('hex') });
  try {
    await writeFile(out, delta);
  } catch (e) {
    throw new LarderError('LARDER_ERR_BUNDLE_DIR', `cannot write ${out}: ${(e as Error).message}`, { cause: e });
  }
  console.log(`delta ${a.manifest.project} v${a.version} -> v${b.version}: ${delta.length} bytes (the new bundle has ${(await readFile(newFile)).length}) in ${out}`);
  return 0;
}
