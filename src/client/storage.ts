/**
 * Where a device store keeps its last good bundle, its signature, the
 * origin's ETag and the high-water mark between runs. Two adapters here
 * run anywhere a browser does (memory, IndexedDB); the Node file adapter is
 * in fs-storage.ts, apart, so that this module imports nothing from Node.
 */

export interface StoredState {
  /** The last good bundle's bytes. */
  bundle?: Uint8Array;
  /** Its detached signature's text. */
  signature?: string;
  /** The origin's ETag for it. */
  etag?: string;
  /** The highest version accepted: lower ones are refused. */
  highWater?: number;
}

export interface StorageAdapter {
  read(): Promise<StoredState | undefined>;
  /** Replaces the whole state; must not leave a half-written one. */
  write(state: StoredState): Promise<void>;
}

export function memoryStorage(initial?: StoredState): StorageAdapter {
  let state = initial;
  return {
    read: async () => state,
    write: async (next) => {
      state = { ...next };
    },
  };
}

const request = <T>(r: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

/**
 * IndexedDB (browsers): one record in object store `state` of database
 * `name`, replaced in one transaction, so a closed tab leaves the old
 * state or the new one.
 */
export function indexedDbStorage(name = 'larder'): StorageAdapter {
  const open = async (): Promise<IDBDatabase> => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('state');
    return request(req);
  };
  return {
    async read() {
      const db = await open();
      try {
        return (await request(db.transaction('state', 'readonly').objectStore('state').get('current'))) as StoredState | undefined;
      } finally {
        db.close();
      }
    },
    async write(state) {
      const db = await open();
      try {
        const tx = db.transaction('state', 'readwrite');
        tx.objectStore('state').put(state, 'current');
        await new Promise<void>((resolve, reject) => {
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error);
        });
      } finally {
        db.close();
      }
    },
  };
}
