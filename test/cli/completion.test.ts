/**
 * `slipway completion bash|zsh|fish`: the scripts are run by the shells
 * themselves, with the words a user would have typed, and must offer what the
 * program's commands and options are.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Argument, Command, Option } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bashScript, completionTree, fishScript, zshScript } from '../../src/cli/commands/completion.js';
import { buildProgram } from '../../src/cli/main.js';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The long options `slipway <path>` lists in its --help that start with `prefix`, as the program defines them. */
function longOptions(path: string[], prefix: string): string[] {
  let cmd = buildProgram();
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name) as Command;
  const longs = cmd.options.filter((o) => !o.hidden && o.long?.startsWith(prefix)).map((o) => o.long as string);
  // The help option is commander's own.
  return '--help'.startsWith(prefix) ? [...longs, '--help'] : longs;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function has(shell: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${shell}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Sources `script` in a fresh bash and, for each line typed so far (the last
 * word is the one being completed), calls the completion function the script
 * registered the way bash does, and returns the candidates it offered.
 */
function bashComplete(script: string, fn: string, lines: string[][]): string[][] {
  const file = join(dir, `${fn}.bash`);
  writeFileSync(file, script);
  const calls = lines.map((words) => `COMP_WORDS=(${words.map(quote).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); ${fn}; printf '%s\\n' "\${COMPREPLY[*]}"`);
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', [`source ${quote(file)}`, ...calls].join('\n')], { encoding: 'utf8', timeout: 10_000 });
  return out
    .split('\n')
    .slice(0, lines.length)
    .map((l) => (l === '' ? [] : l.split(' ')));
}

describe('slipway completion bash', () => {
  let script: string;
  beforeAll(async () => {
    const res = await runCli(['completion', 'bash']);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    script = res.stdout;
  });

  it('completes commands, subcommands, long options and argument choices of the real program', () => {
    const serveDea = longOptions(['serve'], '--dea');
    expect(serveDea.length).toBeGreaterThan(0);
    const [mod, li, dea, shells, helpMo, portValue, afterValue, rootAll, alias] = bashComplete(script, '_slipway', [
      ['slipway', 'mod'],
      ['slipway', 'models', 'li'],
      ['slipway', 'serve', '--dea'],
      ['slipway', 'completion', ''],
      ['slipway', 'help', 'mo'],
      ['slipway', 'serve', '--port', ''],
      ['slipway', 'serve', '--port', '80', '--dea'],
      ['slipway', ''],
      ['slipway', 'models', 'alias', ''],
    ]);
    expect(mod).toEqual(['models']);
    expect(li).toEqual(['list']);
    expect(dea).toEqual(serveDea);
    expect(shells).toEqual(['bash', 'zsh', 'fish']);
    expect(helpMo).toEqual(['models', 'monitor']);
    // The value of --port: nothing of ours, bash falls back to file names (complete -o default).
    expect(portValue).toEqual([]);
    // --port's value is skipped: the command is still `serve`.
    expect(afterValue).toEqual(serveDea);
    expect(rootAll).toEqual(expect.arrayContaining(['artifacts', 'audit', 'completion', 'experiments', 'loadtest', 'models', 'monitor', 'runs', 'serve', 'server', 'help']));
    expect(alias).toEqual(expect.arrayContaining(['set', 'delete']));
  });

  it('knows the data, dataset, pipeline, metrics, params and env commands with their subcommands and options', () => {
    const [da, data, push, gc, datasets, re, repro, dag, metrics, params, paramsDiff, env] = bashComplete(script, '_slipway', [
      ['slipway', 'da'],
      ['slipway', 'data', ''],
      ['slipway', 'data', 'push', '--re'],
      ['slipway', 'data', 'gc', '--'],
      ['slipway', 'datasets', ''],
      ['slipway', 're'],
      ['slipway', 'repro', '--d'],
      ['slipway', 'dag', '--'],
      ['slipway', 'metrics', ''],
      ['slipway', 'params', ''],
      ['slipway', 'params', 'diff', '--a'],
      ['slipway', 'env', ''],
    ]);
    expect(da).toEqual(['data', 'datasets', 'dag']);
    expect(data).toEqual(['add', 'status', 'checkout', 'unprotect', 'gc', 'diff', 'push', 'fetch', 'pull', 'help']);
    expect(push).toEqual(['--remote', '--rev']);
    expect(gc).toEqual(expect.arrayContaining(['--workspace', '--rev', '--no-run-cache', '--dry-run', '--json']));
    expect(datasets).toEqual(['register', 'list', 'show', 'lineage', 'log-input', 'delete', 'help']);
    expect(re).toEqual(expect.arrayContaining(['repro', 'release', 'releases']));
    expect(repro).toEqual(['--dry-run']);
    expect(dag).toEqual(['--dot', '--json', '--config', '--help']);
    expect(metrics).toEqual(['show', 'diff', 'help']);
    expect(params).toEqual(['diff', 'help']);
    expect(paramsDiff).toEqual(['--all']);
    expect(env).toEqual(['show', 'check', 'help']);
  });

  it('covers every command of the program, so it cannot go out of date', () => {
    const paths: string[] = [];
    const walk = (cmd: Command, path: string[]) => {
      paths.push(path.join(' '));
      for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
    };
    walk(buildProgram(), ['slipway']);
    expect(paths.length).toBeGreaterThan(20);
    for (const path of paths) expect(script).toContain(`\n    '${path}') cmds=`);
  });

  it('resolves aliases, offers option choices (also after "="), skips option values and hides hidden commands', () => {
    const program = new Command('demo');
    const deploy = program.command('deploy').alias('dp').description('Deploy it');
    deploy.addOption(new Option('--mode <mode>', 'how to roll out').choices(['fast', 'safe']));
    deploy.option('-t, --target <where>', 'where to').option('--dry-run', 'only say what would happen');
    deploy.addArgument(new Argument('<env>', 'environment').choices(['dev', 'prod']));
    program.command('status').description('Show it');
    program.command('secret', { hidden: true });
    const results = bashComplete(bashScript(program), '_demo', [
      ['demo', 's'],
      ['demo', 'd'],
      ['demo', 'dp', '--m'],
      ['demo', 'deploy', '--mode', ''],
      ['demo', 'deploy', '--mode', '=', 'f'],
      ['demo', 'deploy', '--mode', '='],
      ['demo', 'deploy', '-t', 'x', ''],
      ['demo', 'deploy', '--dry-run', 'p'],
      ['demo', 'deploy', '--mode', 'fast', 'dev', ''],
      ['demo', 'deploy', '--'],
    ]);
    expect(results).toEqual([
      ['status'],
      ['deploy', 'dp'],
      ['--mode'],
      ['fast', 'safe'],
      ['fast'],
      ['fast', 'safe'],
      ['dev', 'prod'],
      ['prod'],
      [],
      ['--mode', '--target', '--dry-run', '--help'],
    ]);
  });
});

describe('slipway completion zsh', () => {
  const program = buildProgram();
  const script = zshScript(program);

  it('is a zsh completion function for slipway, autoloadable from $fpath or sourced', async () => {
    const printed = await runCli(['completion', 'zsh']);
    expect(printed).toMatchObject({ code: 0, stdout: script });
    expect(script.startsWith('#compdef slipway\n')).toBe(true);
    expect(script).toContain('\n_slipway() {\n');
    expect(script).toContain('compdef _slipway slipway');
    for (const node of completionTree(program)) expect(script).toContain(`\n    '${node.path.join(' ')}') cmdnames=(`);
    // Commands come with their descriptions.
    expect(script).toMatch(/ 'models:\w[^']*' /);
    // The data and pipeline commands, down to the options of a subcommand.
    expect(script).toContain("\n    'slipway data') cmdnames=(add status checkout unprotect gc diff push fetch pull help);");
    expect(script).toMatch(/\n {4}'slipway data push'\) cmdnames=\(\); cmds=\(\); opts=\('--remote:[^']*' '--jobs:/);
    for (const path of ['slipway datasets', 'slipway repro', 'slipway dag', 'slipway metrics diff', 'slipway params diff', 'slipway env check']) expect(script).toContain(`\n    '${path}') cmdnames=(`);
    if (has('zsh')) {
      execFileSync('zsh', ['-n', '-c', script], { timeout: 10_000 });
      // Run the function with zsh's completion builtins replaced by ones that print what they were given (filtered by the prefix, as zsh does).
      const file = join(dir, '_slipway');
      writeFileSync(file, script);
      const driver = [
        'compdef() { :; }',
        `source ${quote(file)}`,
        'show() { local -a all m; all=("$@"); all=(${all%%:*}); m=(${(M)all:#${words[CURRENT]}*}); print -r -- "${(j: :)m}"; }',
        '_describe() { show "${(@P)4}"; }',
        'compadd() { [[ $1 == -a ]] && show "${(@P)2}"; }',
        '_files() { print -r -- "(files)"; }',
        'compset() { :; }',
        'try() { words=("$@"); CURRENT=$#; _slipway; }',
        "try slipway mod; try slipway models li; try slipway serve --dea; try slipway completion ''; try slipway serve --port ''",
      ].join('\n');
      const out = execFileSync('zsh', ['-f', '-c', driver], { encoding: 'utf8', timeout: 10_000 });
      expect(out.split('\n').slice(0, 5)).toEqual(['models', 'list', longOptions(['serve'], '--dea').join(' '), 'bash zsh fish', '(files)']);
    }
  });
});

describe('slipway completion fish', () => {
  const program = buildProgram();
  const script = fishScript(program);

  it('declares a completion for every command and long option', async () => {
    const printed = await runCli(['completion', 'fish']);
    expect(printed).toMatchObject({ code: 0, stdout: script });
    expect(script).toContain("complete -c slipway -n '__slipway_at \\'slipway\\'' -f -a 'models'");
    for (const long of longOptions(['serve'], '--')) expect(script).toContain(`complete -c slipway -n '__slipway_at \\'slipway serve\\'' -l ${long.slice(2)}`);
    expect(script).toContain("complete -c slipway -n '__slipway_at \\'slipway completion\\' 0' -f -a 'bash zsh fish'");
    for (const sub of ['add', 'status', 'checkout', 'unprotect', 'gc', 'diff', 'push', 'fetch', 'pull']) expect(script).toContain(`complete -c slipway -n '__slipway_at \\'slipway data\\'' -f -a '${sub}'`);
    expect(script).toContain("complete -c slipway -n '__slipway_at \\'slipway data push\\'' -l remote -s r -r");
    for (const [path, sub] of [['slipway', 'repro'], ['slipway', 'dag'], ['slipway', 'datasets'], ['slipway metrics', 'diff'], ['slipway params', 'diff'], ['slipway env', 'check']]) {
      expect(script).toContain(`complete -c slipway -n '__slipway_at \\'${path}\\'' -f -a '${sub}'`);
    }
    if (has('fish')) {
      const file = join(dir, 'slipway.fish');
      writeFileSync(file, script);
      execFileSync('fish', ['--no-config', '-n', file], { timeout: 10_000 });
      // fish computes the completions of a command line itself with `complete -C`.
      const lines = ['slipway mod', 'slipway models li', 'slipway serve --dea', 'slipway completion '];
      const out = execFileSync('fish', ['--no-config', '-c', `source ${quote(file)}; for l in ${lines.map(quote).join(' ')}; complete -C"$l" | string split -f1 \\t | string join ' '; end`], { encoding: 'utf8', timeout: 10_000 });
      expect(out.split('\n').slice(0, 4)).toEqual(['models', 'list', longOptions(['serve'], '--dea').join(' '), 'bash fish zsh']);
    }
  });
});
