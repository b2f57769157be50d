/** The `larder` package entry for Node: the core plus file access. */
export * from './core/index.js';
export { openBundle, readManifestFile, listBundles } from './bundle-file.js';
