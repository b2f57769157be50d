import { defineRepo } from 'larder-features';

export default defineRepo({
  project: 'quickstart',
  entities: [{ name: 'driver', joinKeys: ['driver_id'], description: 'A driver' }],
  sources: [
    { name: 'driver_stats_source', path: 'data/driver_stats.csv', timestampField: 'event_timestamp', createdTimestampField: 'created' },
    { name: 'driver_profile_source', path: 'data/drivers.csv', timestampField: 'updated_at' },
  ],
  featureViews: [
    {
      name: 'driver_hourly_stats',
      entities: ['driver'],
      source: 'driver_stats_source',
      ttlSeconds: 86400,
      owner: 'ml-platform@example.com',
      description: 'Hourly driver performance',
      tags: { team: 'rides' },
      features: [
        { name: 'conv_rate', dtype: 'float32', description: 'Conversion rate' },
        { name: 'acc_rate', dtype: 'float32', description: 'Acceptance rate' },
        { name: 'avg_daily_trips', dtype: 'int64', default: 0, description: 'Average trips per day' },
      ],
    },
    {
      name: 'driver_profile',
      entities: ['driver'],
      source: 'driver_profile_source',
      ttlSeconds: 0,
      owner: 'ml-platform@example.com',
      description: 'Where a driver works and how riders rate them; never stale',
      features: [
        { name: 'city', dtype: 'string', description: 'Home city' },
        { name: 'vehicle_type', dtype: 'string' },
        { name: 'rating', dtype: 'float32', description: 'Average rider rating, 1 to 5' },
      ],
    },
  ],
  featureServices: [{ name: 'driver_activity', features: ['driver_hourly_stats:*'] }],
});
