/**
 * A daemon's own Prometheus registry (never prom-client's global one), with prom-client's
 * default process metrics: CPU seconds, resident memory, open descriptors, heap, event loop
 * lag and GC time, all read at scrape time or kept by the runtime at no cost per request.
 * The event loop's lag is sampled every `defaults.eventLoopSampleMs` (prom-client's default,
 * 10 ms, woke an idle daemon 100 times a second).
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { defaults } from '../defaults';

/**
 * prom-client names these gauges with the `_total` suffix that Prometheus keeps for counters,
 * which `promtool check metrics` rejects: they are left out.
 */
const MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** A new registry holding the default process metrics. */
export function daemonRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({
    register: registry,
    eventLoopMonitoringPrecision: defaults.eventLoopSampleMs,
  });
  for (const name of MISNAMED) registry.removeSingleMetric(name);
  return registry;
}
