/**
 * `larder-features/client`: the device client (device-store.ts) and its
 * browser-safe storage adapters. Imports only src/core: no Node built-ins.
 * The Node file adapter is `larder-features/client/fs`.
 */
export { createDeviceStore, type DeviceStore, type DeviceStoreOptions, type SyncResult } from './device-store.js';
export { indexedDbStorage, memoryStorage, type StorageAdapter, type StoredState } from './storage.js';
