import { defineRepo } from 'larder';

export default defineRepo({
  project: 'quickstart',
  entities: [{ name: 'driver', joinKeys: ['driver_id'], description: 'A driver' }],
  sources: [
    { name: 'driver_stats_source', path: 'data/driver_stats.csv', timestampField: 'event_timestamp', createdTimestampField: 'created' },
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
  ],
  featureServices: [{ name: 'driver_activity', features: ['driver_hourly_stats:*'] }],
});
