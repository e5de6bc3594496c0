// Checks the Grafana dashboard against reality: which PromQL it runs, which metric names those expressions
// name, and (given a Prometheus scraping a loaded engine) whether each expression returns data.

import { readFile } from 'node:fs/promises';

type Json = unknown;

interface TemplateVariable {
  name?: string;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { value?: unknown };
}

const isObject = (value: Json): value is Record<string, Json> => typeof value === 'object' && value !== null;

/** Every PromQL expression of every panel, including panels nested in (collapsed) rows, in dashboard order. */
export function extractPromQL(dashboardJson: Json): string[] {
  const expressions: string[] = [];
  const visit = (panels: Json): void => {
    if (!Array.isArray(panels)) return;
    for (const panel of panels) {
      if (!isObject(panel)) continue;
      if (Array.isArray(panel.targets)) {
        for (const target of panel.targets) {
          if (isObject(target) && typeof target.expr === 'string' && target.expr.trim() !== '') expressions.push(target.expr);
        }
      }
      visit(panel.panels);
    }
  };
  if (isObject(dashboardJson)) visit(dashboardJson.panels);
  return expressions;
}

export interface SubstitutionOptions {
  /** What $__rate_interval, $__interval, $interval stand for; default '1m'. */
  rateInterval?: string;
  /** What $__range stands for; default '5m'. */
  range?: string;
}

/**
 * Replaces Grafana variables the way a dashboard load would: built-in intervals, and the dashboard's own
 * template variables by their "All" value (allValue, else '.*') or current value. Unknown names stay as they are.
 */
export function substituteVariables(expr: string, dashboardJson: Json, options: SubstitutionOptions = {}): string {
  const rateInterval = options.rateInterval ?? '1m';
  const values = new Map<string, string>([
    ['__rate_interval', rateInterval], ['__interval', rateInterval], ['interval', rateInterval],
    ['__range', options.range ?? '5m'],
  ]);
  const templating = isObject(dashboardJson) && isObject(dashboardJson.templating) ? dashboardJson.templating.list : [];
  for (const variable of Array.isArray(templating) ? templating as TemplateVariable[] : []) {
    if (typeof variable.name !== 'string') continue;
    const current = variable.current?.value;
    if (variable.includeAll === true) values.set(variable.name, variable.allValue ?? '.*');
    else if (typeof current === 'string') values.set(variable.name, current);
  }
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, braced?: string, bare?: string, legacy?: string) =>
    values.get((braced ?? bare ?? legacy)!) ?? whole);
}

const PROMQL_KEYWORDS: ReadonlySet<string> = new Set([
  'and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'inf', 'nan', 'atan2',
]);

/**
 * The metric names an expression selects: identifiers that are not functions, keywords, label names,
 * label values, durations or numbers.
 */
export function referencedMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals (label values)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery durations
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' '); // label lists
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.:$])[a-zA-Z_:][\w:]*/g)) {
    const name = match[0];
    const rest = stripped.slice(match.index + name.length);
    if (/^\s*\(/.test(rest) || PROMQL_KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

export interface ExpressionCheck {
  expr: string;
  ok: boolean;
  error?: string;
}

/**
 * Runs every expression of the dashboard at `dashboardPath` as an instant query against the Prometheus at
 * `promUrl` (variables substituted). ok when the query succeeds and returns at least one series.
 */
export async function checkDashboardAgainstPrometheus(promUrl: string, dashboardPath: string,
  options: SubstitutionOptions = {}): Promise<ExpressionCheck[]> {
  const dashboard: Json = JSON.parse(await readFile(dashboardPath, 'utf8'));
  const checks: ExpressionCheck[] = [];
  for (const expr of extractPromQL(dashboard)) {
    const query = substituteVariables(expr, dashboard, options);
    try {
      const response = await fetch(new URL(`/api/v1/query?query=${encodeURIComponent(query)}`, promUrl));
      const answer = await response.json() as { status?: string; error?: string; data?: { resultType?: string; result?: unknown[] } };
      if (answer.status !== 'success') {
        checks.push({ expr, ok: false, error: answer.error ?? `HTTP ${response.status}` });
      } else if (answer.data?.resultType === 'scalar' || (answer.data?.result?.length ?? 0) > 0) {
        checks.push({ expr, ok: true });
      } else {
        checks.push({ expr, ok: false, error: 'no series' });
      }
    } catch (error) {
      checks.push({ expr, ok: false, error: (error as Error).message });
    }
  }
  return checks;
}

/**
 * The series names a Prometheus text exposition defines, from its TYPE lines: a histogram `x` defines
 * x_bucket, x_sum and x_count; a summary x, x_sum and x_count; anything else its own name.
 */
export function definedSeriesNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(`${name}${suffix}`);
    else names.add(name!);
  }
  return names;
}
