/**
 * What the monitoring test compares: the series names (and their label names) a PromQL
 * expression selects, and the series a service's `GET /metrics` exposes. Not a PromQL parser: it
 * knows enough of the grammar to find the vector selectors in the expressions infra/monitoring
 * writes (functions, aggregations with by/without, binary operators with on/ignoring/group_*,
 * ranges and subqueries, label matchers, numbers, durations, Grafana's `$variables`).
 */

export interface Matcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export interface Selector {
  /** The series name, e.g. `http_server_request_duration_bucket`. */
  readonly metric: string;
  /** Its label matchers `{a="x", b=~"y"}`. */
  readonly labels: readonly Matcher[];
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/** Every vector selector of `expr`, in order of appearance (duplicates kept). */
export function promqlSelectors(expr: string): Selector[] {
  const strings: string[] = [];
  const text = expr
    // String literals first: they may hold anything, braces and parentheses included.
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (lit) => {
      strings.push(lit.slice(1, -1));
      return `"${strings.length - 1}"`;
    })
    // Grafana's template variables ($__rate_interval, ${job}).
    .replace(/\$\{[^}]*\}|\$\w+/g, '')
    // Ranges and subqueries: [5m], [10m:1m].
    .replace(/\[[^\]]*\]/g, '')
    // Label lists of grouping and matching modifiers: by (le, job), on (), group_left (x).
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, '');
  const out: Selector[] = [];
  const token = /(\d[\w.]*)|([a-zA-Z_:][\w:]*)|(\{[^}]*\})/g;
  let pending: { metric: string; index: number } | undefined;
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    const [whole, number, ident, braces] = m;
    if (number !== undefined) continue;
    if (braces !== undefined) {
      const labels = [...braces.matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"(\d+)"/g)].map((l) => ({
        name: l[1] ?? '',
        op: l[2] as Matcher['op'],
        value: strings[Number(l[3])] ?? '',
      }));
      const owner = pending;
      const between = owner === undefined ? '' : text.slice(owner.index, m.index);
      if (owner !== undefined && /^\s*$/.test(between)) {
        out.push({ metric: owner.metric, labels });
        pending = undefined;
      } else {
        // `{__name__=~"..."}`: names this check cannot see; infra/monitoring writes none.
        throw new Error(`a selector without a metric name in front: ${expr}`);
      }
      continue;
    }
    if (pending !== undefined) out.push({ metric: pending.metric, labels: [] });
    pending = undefined;
    if (ident === undefined || KEYWORDS.has(ident.toLowerCase())) continue;
    const after = text.slice(m.index + whole.length);
    if (/^\s*\(/.test(after)) continue; // a function or an aggregation
    pending = { metric: ident, index: m.index + whole.length };
  }
  if (pending !== undefined) out.push({ metric: pending.metric, labels: [] });
  return out;
}

/** The series of a Prometheus text exposition: name → the label names seen on it. */
export function exposedSeries(exposition: string): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const name = m[1] ?? '';
    const labels = series.get(name) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1] ?? '');
    series.set(name, labels);
  }
  return series;
}
