/**
 * Reading what /metrics serves, and the metric names a PromQL expression uses, for the metrics suite.
 * The names come from a plain scan (strings, label matchers, ranges and label lists taken out; what is
 * left that is not a function, a keyword or a number is a metric): enough for the expressions of
 * docs/ops/. A full parser exists on npm (@prometheus-io/lezer-promql, Prometheus's own grammar), not a
 * dependency of this project.
 */

/** The samples of an exposition whose series start with `prefix`: series (name and labels) → value. */
export function samples(text: string, prefix: string): Record<string, number> {
  const found: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const at = line.lastIndexOf(' ');
    found[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return found;
}

/** Every metric name an exposition declares (`# TYPE`), with a histogram's and a summary's own series. */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name! + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name! + suffix);
  }
  return names;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression reads, in order of appearance, each once. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/(?<![\w.$])[A-Za-z_:][\w:]*/g)) {
    const name = match[0];
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\s*\(/.test(stripped.slice(match.index + name.length))) continue;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** The parts of a Prometheus rules file the suite reads. */
export interface AlertRules {
  groups: Array<{
    name: string;
    rules: Array<{ alert: string; expr: string; for: string; annotations: Record<string, string> }>;
  }>;
}

/** The parts of a Grafana dashboard the suite reads. */
export interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Array<{ title: string; targets?: Array<{ expr?: string }> }>;
}
