#!/usr/bin/env node
/**
 * The `larder` command. Each subcommand lives in its own module and is loaded
 * only when run, so `larder serve` never loads DuckDB (the builder's
 * commands import bundle-builder/, the sidecar's do not).
 */
import { readFileSync } from 'node:fs';
import { ERROR_CATALOG, LarderError } from './core/errors.js';
import { reportError } from './cli/errors.js';

interface Command {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, Command> = {
  build: { summary: 'build a bundle from a feature repo', load: () => import('../bundle-builder/commands/build.js') },
  catalog: { summary: 'list feature views and features of a repo', load: () => import('../bundle-builder/commands/catalog.js') },
  materialize: { summary: 'write the as-of row of every key to Redis', load: () => import('../bundle-builder/commands/materialize.js') },
  push: { summary: "push rows from a file online (Redis) and/or offline, as Feast's /push", load: () => import('../bundle-builder/commands/push.js') },
  shadow: { summary: 'compare served values (larder serve --log-served) with training values; name every difference', load: () => import('../bundle-builder/commands/shadow.js') },
  training: { summary: 'build a point-in-time correct training set for an entities file', load: () => import('../bundle-builder/commands/training.js') },
  serve: { summary: 'serve bundles over Feast-compatible HTTP (the sidecar)', load: () => import('./sidecar/command.js') },
  demo: { summary: 'write a demo repo, build it and serve it (no Redis needed)', load: () => import('./cli/demo.js') },
  keygen: { summary: 'write an Ed25519 key pair for signing bundles', load: () => import('../bundle-builder/commands/keygen.js') },
  rollback: { summary: "roll a running sidecar back to an earlier bundle version (its admin route)", load: () => import('./sidecar/lifecycle/rollback-command.js') },
  origin: { summary: 'serve a bundle folder to sidecars and devices (ETag, 304)', load: () => import('./origin/command.js') },
  diff: { summary: 'write a delta between two bundle files', load: () => import('./origin/diff-command.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: larder <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "larder <command> --help" for a command's options, "larder --version" for the version.`;
}

/** The package's version, from the package.json two folders above this file (dist/src/cli.js). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function main(name: string | undefined, rest: string[]): Promise<number> {
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : ERROR_CATALOG.LARDER_ERR_USAGE.exitCode;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new LarderError('LARDER_ERR_USAGE', `unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
  return (await command.load()).run(rest);
}

const [name, ...rest] = process.argv.slice(2);
main(name, rest).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Every failure prints one line with its code and exits with the
    // catalog's exit code; a bug (not a LarderError) keeps its stack.
    process.exitCode = reportError(e, name !== undefined && Object.hasOwn(COMMANDS, name) ? name : undefined);
  },
);
