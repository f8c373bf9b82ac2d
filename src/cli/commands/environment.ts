/** `slipway env check MODEL_URI`: the environment a model was built in against the one it is about to run in. */
import type { Command } from 'commander';
import type { EnvironmentDifference } from '../../pipelines/environment.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { EXIT, addHelpEpilogue, formatRecord, formatTable, formatVerdict, printValue, runAction, usageErrorsExit2 } from '../output.js';

interface CheckFlags extends ConnectionFlags {
  json?: boolean;
  strict?: boolean;
}

// Lock file digests are 64 hex characters; 12 tell them apart in a table.
function shown(key: string, value: string | null): string {
  if (value === null) return '-';
  return key.startsWith('env.lockfile.') && /^[0-9a-f]{64}$/.test(value) ? value.slice(0, 12) : value;
}

interface CheckReport {
  model: string;
  version: string;
  runId: string | null;
  recorded: Record<string, string>;
  current: Record<string, string>;
  differences: EnvironmentDifference[];
  errors: number;
  warnings: number;
  /** Why nothing could be compared, when nothing could. */
  note?: string;
}

function checkText(r: CheckReport): string {
  const head = `${r.model} version ${r.version}${r.runId ? `, built by run ${r.runId}` : ''}\n`;
  if (r.note) return `${head}${r.note}\n`;
  const table = formatTable(
    r.differences,
    [
      { header: 'KEY', value: (d) => d.key },
      { header: 'RECORDED', value: (d) => shown(d.key, d.recorded), maxWidth: 30 },
      { header: 'HERE', value: (d) => shown(d.key, d.current), maxWidth: 30 },
      { header: 'LEVEL', value: (d) => d.level, status: true },
      { header: 'NOTE', value: (d) => d.note, maxWidth: 100 },
    ],
    '(no environment facts to compare)',
  );
  const summary = r.errors > 0 ? `${r.errors} error(s), ${r.warnings} warning(s): this machine differs in ways that can break the model.` : r.warnings > 0 ? `no errors, ${r.warnings} warning(s).` : 'the environment matches.';
  return `${head}${table}${formatVerdict(r.errors === 0, summary)}\n`;
}

/** Registers `slipway env`. */
export function register(program: Command): void {
  const env = program.command('env').description('Show the environment stage runs record, and check a model version\'s recorded environment against this machine');

  env
    .command('show')
    .description('Show this machine\'s environment as a stage run records it (env.* tags)')
    .option('--json', 'print JSON')
    .action(
      runAction(async (flags: { json?: boolean }) => {
        const { captureEnvironment } = await import('../../pipelines/environment.js');
        const { findWorkspaceRoot } = await import('../../data/workspace.js');
        const tags = await captureEnvironment({ root: findWorkspaceRoot(), python: true });
        printValue(tags, flags, () => formatRecord(Object.entries(tags)));
      }),
    );

  addConnectionOptions(
    env
      .command('check')
      .description('Compare the environment recorded by the run that built a model version with this machine: OS, arch, onnxruntime, Node, Python, lock files')
      .argument('<model-uri>', 'models:/NAME/VERSION or models:/NAME@ALIAS')
      .option('--strict', 'exit 1 when the version has no run or its run recorded no environment')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (uri: string, flags: CheckFlags) => {
      const { parseModelUri } = await import('../../core/model-source.js');
      const { SlipwayError } = await import('../../core/errors.js');
      const { captureEnvironment, compareEnvironments, environmentTags } = await import('../../pipelines/environment.js');
      const { findWorkspaceRoot } = await import('../../data/workspace.js');
      const ref = parseModelUri(uri);
      if (!ref) throw new SlipwayError('INVALID_ARGUMENT', `MODEL_URI must be models:/NAME@ALIAS or models:/NAME/VERSION, got '${uri}'.`);
      if (ref.version !== undefined && !/^\d+$/.test(ref.version)) throw new SlipwayError('INVALID_ARGUMENT', `The version in '${uri}' must be a number (or use models:/NAME@ALIAS), got '${ref.version}'.`);
      const { version, recorded } = await withConnection(
        flags,
        async (client) => {
          const v = ref.alias !== undefined ? await client.models.getByAlias(ref.name, ref.alias) : await client.models.getVersion(ref.name, ref.version as string);
          if (!v.runId) return { version: v, recorded: undefined };
          try {
            const run = await client.runs.get(v.runId);
            return { version: v, recorded: environmentTags(Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]))) };
          } catch (err) {
            if ((err as { code?: string }).code === 'NOT_FOUND') return { version: v, recorded: null };
            throw err;
          }
        },
        { readOnly: true },
      );
      const base = { model: version.name, version: String(version.version), runId: version.runId ?? null };
      let note: string | undefined;
      if (!version.runId) note = `Version ${version.version} was registered without a run: its environment was never recorded.`;
      else if (recorded === null) note = `Run ${version.runId}, which built version ${version.version}, is no longer in the store: its environment is unknown.`;
      else if (recorded === undefined || Object.keys(recorded).length === 0) note = `Run ${version.runId} recorded no environment (env.* tags): nothing to compare. Runs of slipway repro record it.`;
      if (note !== undefined) {
        const report: CheckReport = { ...base, recorded: recorded ?? {}, current: {}, differences: [], errors: 0, warnings: 0, note };
        printValue(report, flags, () => checkText(report));
        return flags.strict ? EXIT.FAILED : EXIT.OK;
      }
      const rec = recorded as Record<string, string>;
      const current = await captureEnvironment({ root: findWorkspaceRoot(), python: rec['env.python'] !== undefined });
      const differences = compareEnvironments(rec, current);
      const report: CheckReport = {
        ...base,
        recorded: rec,
        current,
        differences,
        errors: differences.filter((d) => d.level === 'error').length,
        warnings: differences.filter((d) => d.level === 'warning').length,
      };
      printValue(report, flags, () => checkText(report));
      return report.errors > 0 ? EXIT.FAILED : EXIT.OK;
    }),
  );
  usageErrorsExit2(env);
  addHelpEpilogue(env, {
    examples: ['slipway env show', 'slipway env show --json', 'slipway env check models:/cancer@candidate', 'slipway env check models:/cancer/3 --json --strict'],
    exitCodes: {
      1: 'check: an error-level difference (another OS or arch, an older or other-major onnxruntime), an unknown model or version, or with --strict a version with no recorded environment',
      2: 'bad usage or a malformed model URI',
    },
    docs: ['pipelines.md'],
  });
}
