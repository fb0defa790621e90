/**
 * Instruments of the shared-state stores (Redis sessions; PostgreSQL users
 * may add theirs here), on the one shared registry. Labels are bounded: the
 * store kind and a fixed operation name, never a key, user or token.
 */
import client from 'prom-client';
import { registry } from './metrics.js';

export type StoreKind = 'redis' | 'postgres';

export const storeErrorsTotal = new client.Counter({
  name: 'kestra_authz_store_errors_total',
  help: 'Failed operations on a shared store (the request needing it failed closed), by store and operation.',
  labelNames: ['store', 'op'] as const,
  registers: [registry],
});

export const storeUp = new client.Gauge({
  name: 'kestra_authz_store_up',
  help: '1 while the connection to the shared store is ready, else 0.',
  // serve --workers N: 0 when any worker has lost it.
  aggregator: 'min',
  labelNames: ['store'] as const,
  registers: [registry],
});
