/**
 * The bundle-source seam: something that finds bundles and installs them
 * into the serving state (a directory today; an HTTP origin with ETags
 * later). A source never throws after start: a bad bundle is logged and
 * skipped, and whatever is being served keeps being served.
 */
export interface BundleSource {
  /** Loads the first bundle if one is available, then keeps watching. */
  start(): Promise<void>;
  /** Stops watching; the served bundle stays. */
  stop(): void;
}
