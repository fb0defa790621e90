/**
 * Login-flow instruments beyond the shared ones in metrics.ts
 * (oidc_logins_total, oidc_refresh_total), registered on the same registry.
 */
import client from 'prom-client';
import { registry } from './metrics.js';

export const oidcLoginDuration = new client.Histogram({
  name: 'kestra_authz_oidc_login_duration_seconds',
  help: 'Time to complete an OIDC callback (code exchange and ID-token checks at the provider), seconds, by configured provider.',
  labelNames: ['provider'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
