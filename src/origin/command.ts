/** `larder origin --bundles <dir>`: serves a bundle folder to sidecars (--bundle-url) and devices until SIGTERM/SIGINT. */
import { type CommandSpec, helpText, integer, nonEmpty, parseCommand } from '../option-table.js';
import { startOrigin } from './origin.js';

export interface OriginArgs {
  bundles: string;
  host: string;
  port: number;
}

export const ORIGIN_COMMAND: CommandSpec<OriginArgs> = {
  name: 'origin',
  about: 'Serves the bundles of a folder over HTTP: GET /bundles/latest (manifest, ETag, 304 when unchanged), GET /bundles/<version> and /bundles/<version>.sig. Sidecars follow it with --bundle-url.',
  positionals: [],
  options: [
    { key: 'bundles', flag: '--bundles', env: 'LARDER_BUNDLES', valueName: '<dir>', defaultText: undefined, description: 'Folder of bundle files, as larder build writes them.', parse: nonEmpty('a directory path') },
    { key: 'host', flag: '--host', env: 'LARDER_ORIGIN_HOST', valueName: '<host>', defaultText: '127.0.0.1', description: 'Address to bind; 0.0.0.0 to expose it.', parse: nonEmpty('a host name or IP address') },
    { key: 'port', flag: '--port', env: 'LARDER_ORIGIN_PORT', valueName: '<port>', defaultText: '6567', description: 'TCP port; 0 picks a free one.', parse: integer(0, 65535, 'an integer from 0 to 65535') },
  ],
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(ORIGIN_COMMAND, argv, process.env);
  if (parsed.help) {
    console.log(helpText(ORIGIN_COMMAND));
    return 0;
  }
  const origin = await startOrigin(parsed.options);
  console.log(`larder origin listening on ${origin.url} (bundles from ${parsed.options.bundles})`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void origin.close().then(resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}
