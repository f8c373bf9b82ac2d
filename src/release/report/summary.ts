/**
 * A release as Markdown for CI step summaries (GitHub's GITHUB_STEP_SUMMARY, GitLab
 * and others render it): the verdict first, then the gates, the candidate against
 * the champion for each gate that measured both, and the canary analyses.
 */
import type { GateResult, Release } from '../../client/schemas/releases.js';
import { figureText, releaseSeconds, rolloutOutcome, sideBySide, strategyText } from './report-text.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** Text for one table cell: one line, control characters dropped, pipes and markup characters escaped. */
export function markdownCell(text: string): string {
  return text
    .replace(CONTROL, '')
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .replace(/([\\`*_[\]<|])/g, '\\$1')
    .trim();
}

const VERDICT_MARK: Record<GateResult['verdict'], string> = { pass: '✅ pass', fail: '❌ fail', error: '⚠️ error', skipped: '⏭️ skipped', pending: '⏳ pending', running: '⏳ running' };

const HEADLINE: Record<Release['state'], string> = {
  promoted: '✅',
  rejected: '❌',
  rolled_back: '↩️',
  aborted: '⛔',
  pending: '⏳',
  gates: '⏳',
  awaiting_approval: '✋',
  rolling_out: '🚦',
};

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function change(candidate: number | undefined, champion: number | undefined): string {
  if (candidate === undefined || champion === undefined) return '-';
  const diff = candidate - champion;
  const rel = champion !== 0 ? ` (${diff >= 0 ? '+' : ''}${((diff / Math.abs(champion)) * 100).toFixed(1)} %)` : '';
  return `${diff >= 0 ? '+' : ''}${figureText(diff)}${rel}`;
}

function thresholdRows(gate: GateResult): string[] {
  const list = gate.figures.thresholds;
  if (!Array.isArray(list) || list.length === 0) return [];
  const rows = list.map((t) => {
    const r = (typeof t === 'object' && t !== null ? t : { expression: String(t) }) as Record<string, unknown>;
    const passed = r.passed;
    return [markdownCell(String(r.expression ?? r.threshold ?? '')), passed === true ? '✅' : passed === false ? '❌' : '-', markdownCell(figureText(r.actual ?? r.value))];
  });
  return ['', ...table(['Threshold', 'Met', 'Measured'], rows)];
}

function comparisonSection(gate: GateResult): string[] {
  const rows = sideBySide(gate);
  if (rows.length === 0) return [];
  const title = gate.kind === 'loadtest' ? `Load test \`${markdownCell(gate.name)}\`: latencies, candidate vs champion` : `\`${markdownCell(gate.name)}\`: candidate vs champion`;
  return [
    '',
    `### ${title}`,
    '',
    ...table(
      ['Figure', 'Candidate', 'Champion', 'Change'],
      rows.map((r) => [markdownCell(r.figure), figureText(r.candidate), figureText(r.champion), change(r.candidate, r.champion)]),
    ),
    ...thresholdRows(gate),
  ];
}

function analysesSection(release: Release): string[] {
  const analyses = release.rollout?.analyses ?? [];
  if (analyses.length === 0) return [];
  const keys = [...new Set(analyses.flatMap((a) => Object.keys(a)))].filter((k) => analyses.some((a) => typeof a[k] !== 'object' || a[k] === null)).slice(0, 10);
  return ['', '### Canary analyses', '', ...table(['#', ...keys.map(markdownCell)], analyses.map((a, i) => [String(i + 1), ...keys.map((k) => markdownCell(figureText(a[k])))]))];
}

/** The release as a Markdown section: headline with the verdict, the gates, comparisons and analyses. */
export function releaseToMarkdown(release: Release): string {
  const rollout = rolloutOutcome(release);
  const lines = [
    `## ${HEADLINE[release.state]} Release of ${markdownCell(release.model)} version ${markdownCell(release.version)} to ${markdownCell(release.environment)}: ${release.state.replace('_', ' ')}`,
    '',
    `${markdownCell(release.reason || '')}`,
    '',
    `Release \`${markdownCell(release.id)}\` · requested by ${markdownCell(release.requestedBy)} · champion ${release.championVersion !== undefined ? `version ${markdownCell(release.championVersion)}` : 'none (first release)'} · strategy ${markdownCell(strategyText(release))} · ${releaseSeconds(release).toFixed(1)} s`,
    '',
    '### Gates',
    '',
    ...(release.gates.length === 0
      ? ['No gates.']
      : table(
          ['Gate', 'Kind', 'Verdict', 'Reason'],
          release.gates.map((g) => [markdownCell(g.name), g.kind, VERDICT_MARK[g.verdict], markdownCell(g.reason)]),
        )),
    ...release.gates.flatMap(comparisonSection),
    ...(release.approvals.length > 0 ? ['', '### Approvals', '', ...release.approvals.map((a) => `- ${markdownCell(a.by)}${a.comment ? `: ${markdownCell(a.comment)}` : ''}`)] : []),
    '',
    '### Rollout',
    '',
    `${rollout.verdict === 'pass' ? '✅' : rollout.verdict === 'fail' ? '❌' : '⏭️'} ${markdownCell(rollout.reason)}`,
    ...analysesSection(release),
    '',
  ];
  return `${lines.join('\n')}\n`;
}
