// Reads the quickstart bundle in process. Run from this folder after
// `larder build . --out bundles --as-of 2026-01-01T12:00:00Z`.
import { openBundle } from 'larder-features';

const bundle = await openBundle('bundles/quickstart-v1.larder');

// The stored values of one driver, as of the snapshot.
console.log(JSON.stringify(bundle.get('driver_hourly_stats', 1001)));

// Feast's get-online-features, judged at a given time: driver 1003's value
// is from 09:00 on Jan 1, older than the view's 1-day TTL by 10:00 on Jan 2.
const response = bundle.getOnlineFeatures(
  {
    features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:avg_daily_trips'],
    entities: { driver_id: [1001, 1002, 1003, 9999] },
  },
  { now: new Date('2026-01-02T10:00:00Z') },
);
console.log(JSON.stringify(response));
