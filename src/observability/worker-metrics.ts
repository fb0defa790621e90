/**
 * Metrics of a `serve --workers N` primary itself (the workers' own come
 * from their registries, aggregated by the primary: group-primary.ts). Kept
 * in a registry of their own: the primary serves no requests, so the
 * service's registry would only add zeros to the workers' sums.
 */
import client from 'prom-client';

export const groupRegistry = new client.Registry();

export const workersAlive = new client.Gauge({
  name: 'kestra_authz_workers',
  help: 'Worker processes of `serve --workers N` alive now (started, not exited).',
  registers: [groupRegistry],
});

export const workersReady = new client.Gauge({
  name: 'kestra_authz_workers_ready',
  help: 'Workers of `serve --workers N` that report ready (doors listening, every dependency answering).',
  registers: [groupRegistry],
});

export const workerRestartsTotal = new client.Counter({
  name: 'kestra_authz_worker_restarts_total',
  help: 'Workers of `serve --workers N` that exited unexpectedly and were started again.',
  registers: [groupRegistry],
});
