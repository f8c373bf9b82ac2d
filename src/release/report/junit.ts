/**
 * A release as JUnit XML, the report CI systems (GitLab, Jenkins, GitHub test
 * reporters) show as tests: one test case per gate, plus one for the rollout.
 */
import type { Release } from '../../client/schemas/releases.js';
import { figureLines, gateSeconds, releaseSeconds, rolloutOutcome } from './report-text.js';

// Characters XML 1.0 cannot hold at all (even escaped): C0 controls but tab, newline and return, lone surrogates, U+FFFE/U+FFFF.
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text made safe for XML content and attribute values: invalid characters dropped, markup escaped. */
export function xmlText(text: string): string {
  return text
    .replace(NOT_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

// Attribute values keep newlines and tabs only as references, or parsers fold them into spaces.
function attr(text: string): string {
  return xmlText(text).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

const seconds = (s: number): string => s.toFixed(3);

interface Case {
  name: string;
  time: number;
  verdict: 'pass' | 'fail' | 'error' | 'skipped';
  reason: string;
  details: string[];
}

function caseXml(classname: string, c: Case): string {
  const open = `    <testcase classname="${attr(classname)}" name="${attr(c.name)}" time="${seconds(c.time)}"`;
  const body = [c.reason, ...c.details].join('\n');
  if (c.verdict === 'pass') return `${open}/>`;
  if (c.verdict === 'skipped') return `${open}>\n      <skipped message="${attr(c.reason)}"/>\n    </testcase>`;
  const tag = c.verdict === 'error' ? 'error' : 'failure';
  return `${open}>\n      <${tag} message="${attr(c.reason)}" type="${c.verdict}">${xmlText(body)}</${tag}>\n    </testcase>`;
}

/** The release as a JUnit XML document: a suite named after the release, a case per gate and one for the rollout. */
export function releaseToJUnit(release: Release): string {
  const classname = `${release.model}/${release.environment}`;
  const cases: Case[] = release.gates.map((g) => ({
    name: g.name,
    time: gateSeconds(g),
    // A gate that never ran (the release stopped first) is reported as skipped.
    verdict: g.verdict === 'pending' || g.verdict === 'running' ? 'skipped' : g.verdict,
    reason: g.verdict === 'pending' || g.verdict === 'running' ? `Not run (${g.verdict}).${g.reason ? ` ${g.reason}` : ''}` : g.reason,
    details: figureLines(g.figures),
  }));
  const rollout = rolloutOutcome(release);
  const analyses = release.rollout?.analyses ?? [];
  cases.push({
    name: 'rollout',
    time: 0,
    verdict: rollout.verdict,
    reason: rollout.reason,
    details: [`strategy: ${release.policy.strategy.kind}`, ...analyses.map((a, i) => `analysis ${i + 1}: ${JSON.stringify(a)}`)],
  });
  const count = (v: Case['verdict']) => cases.filter((c) => c.verdict === v).length;
  const totals = `tests="${cases.length}" failures="${count('fail')}" errors="${count('error')}" skipped="${count('skipped')}" time="${seconds(releaseSeconds(release))}"`;
  const suiteName = `release ${release.model} version ${release.version} to ${release.environment}`;
  const properties = [
    ['release.id', release.id],
    ['release.state', release.state],
    ['release.reason', release.reason],
    ['model', release.model],
    ['version', release.version],
    ['environment', release.environment],
    ...(release.championVersion !== undefined ? [['champion.version', release.championVersion]] : []),
    ['requested.by', release.requestedBy],
  ].map(([name, value]) => `      <property name="${attr(name as string)}" value="${attr(value as string)}"/>`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="slipway release" ${totals}>`,
    `  <testsuite name="${attr(suiteName)}" ${totals} timestamp="${new Date(release.createdTime).toISOString().replace(/\.\d{3}Z$/, '')}">`,
    '    <properties>',
    ...properties,
    '    </properties>',
    ...cases.map((c) => caseXml(classname, c)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
