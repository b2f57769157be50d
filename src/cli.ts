#!/usr/bin/env node
/**
 * The `larder` command. Each subcommand lives in its own module and is loaded
 * only when run, so `larder serve` never loads DuckDB (the builder's
 * commands import bundle-builder/, the sidecar's do not).
 */
import { LarderError } from './core/errors.js';

interface Command {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, Command> = {
  build: { summary: 'build a bundle from a feature repo', load: () => import('../bundle-builder/commands/build.js') },
  catalog: { summary: 'list feature views and features of a repo', load: () => import('../bundle-builder/commands/catalog.js') },
  shadow: { summary: 'compare served values (larder serve --log-served) with training values; name every difference', load: () => import('../bundle-builder/commands/shadow.js') },
  training: { summary: 'build a point-in-time correct training set for an entities file', load: () => import('../bundle-builder/commands/training.js') },
  serve: { summary: 'serve bundles over Feast-compatible HTTP (the sidecar)', load: () => import('./sidecar/command.js') },
  demo: { summary: 'write a demo repo, build it and serve it (no Redis needed)', load: () => import('./cli/demo.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: larder <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "larder <command> --help" for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`larder: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Expected failures (bad config, bad data, bad bundle) print their
    // message alone; anything else is a bug and keeps its stack.
    if (e instanceof LarderError) console.error(`larder: ${e.code}: ${e.message}`);
    else console.error(e);
    process.exitCode = 1;
  },
);
