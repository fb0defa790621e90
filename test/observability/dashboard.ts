/** The Grafana dashboard the compose demo provisions, and every PromQL query in it. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_FILE = fileURLToPath(new URL('../../../deploy/grafana/kestra-authz-dashboard.json', import.meta.url));

export interface DashboardQuery {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly targets?: readonly { readonly refId: string; readonly expr: string; readonly datasource?: { readonly uid: string } }[];
  readonly panels?: readonly Panel[];
}

export function loadDashboard(): { readonly uid: string; readonly panels: readonly Panel[]; readonly templating: { readonly list: readonly any[] } } {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
}

/** Every panel, rows' nested panels included. */
export function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

export function dashboardQueries(): DashboardQuery[] {
  return allPanels(loadDashboard().panels).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })));
}

/** Grafana's variables replaced by values Prometheus accepts, to run a query outside Grafana. */
export function withVariables(expr: string, values: { readonly job: string; readonly instance?: string }): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '5m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$job', values.job)
    .replaceAll('$instance', values.instance ?? '.*');
}
