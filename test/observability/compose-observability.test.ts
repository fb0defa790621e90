/**
 * The compose demo's Prometheus and Grafana are wired to each other and to
 * kestra-authz: Prometheus scrapes the management port the service listens
 * on, Grafana's provisioning reads the files compose mounts where it mounts
 * them, its datasource is the Prometheus service, and viewing needs no login.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => parse(readFileSync(join(ROOT, path), 'utf8')) as any;
const compose = read('docker-compose.yml');
const services = compose.services;

/** `./host:/container[:ro]` volume entries of a service → container path → host path. */
function mounts(service: string): Map<string, string> {
  return new Map((services[service].volumes as string[]).map((v) => v.split(':')).map(([host, container]) => [container!, host!]));
}

describe('compose demo: Prometheus and Grafana', () => {
  test('Prometheus scrapes kestra-authz on the management port of its config, with the alert rules', () => {
    const prometheusMounts = mounts('prometheus');
    assert.equal(prometheusMounts.get('/etc/prometheus'), './deploy/prometheus');
    assert.ok(services.prometheus.command.includes('--config.file=/etc/prometheus/prometheus.yml'));
    const config = read('deploy/prometheus/prometheus.yml');
    const job = config.scrape_configs.find((j: any) => j.job_name === 'kestra-authz');
    const management = read('deploy/compose/kestra-authz.yaml').authz.listen.management as string;
    assert.deepEqual(job.static_configs[0].targets, [`kestra-authz:${management.split(':')[1]}`]);
    assert.ok(services['kestra-authz'].expose.includes(management.split(':')[1]));
    assert.deepEqual(config.rule_files, ['alerts.yml']);
    assert.ok(existsSync(join(ROOT, 'deploy/prometheus/alerts.yml')));
  });

  test('Grafana provisions the Prometheus service as datasource and the dashboard from where compose mounts it', () => {
    const grafanaMounts = mounts('grafana');
    const datasources = read(`${grafanaMounts.get('/etc/grafana/provisioning/datasources')}/prometheus.yaml`).datasources;
    assert.equal(datasources.length, 1);
    assert.equal(datasources[0].type, 'prometheus');
    assert.equal(datasources[0].url, `http://prometheus:${services.prometheus.ports[0].split(':').at(-1)}`);
    const provider = read(`${grafanaMounts.get('/etc/grafana/provisioning/dashboards')}/kestra-authz.yaml`).providers[0];
    const dashboardPath = `${provider.options.path}/kestra-authz-dashboard.json`;
    assert.equal(grafanaMounts.get(dashboardPath), './deploy/grafana/kestra-authz-dashboard.json');
    assert.equal(services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, dashboardPath);
    for (const host of grafanaMounts.values()) if (host.startsWith('./')) assert.ok(existsSync(join(ROOT, host)), host);
  });

  test('anonymous visitors may view, not edit; the admin password has a demo default', () => {
    const env = services.grafana.environment;
    assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, 'true');
    assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
    assert.equal(env.GF_SECURITY_ADMIN_PASSWORD, '${GRAFANA_ADMIN_PASSWORD:-admin}');
  });
});
