/**
 * `slipway completion bash|zsh|fish`: prints a shell completion script made by
 * walking the program's own command tree (commands, subcommands, long options,
 * and the choices commander knows), so it never goes out of date.
 *
 * Hand-written: the npm completion libraries (omelette, tabtab) call the program
 * back on every Tab, which would start Node each time; a static script answers at once.
 * Imports nothing at load time beyond commander's types and output.ts.
 */
import { Argument, Help, type Command, type Option } from 'commander';
import { addHelpEpilogue, runAction } from '../output.js';

/** The shells `slipway completion` writes scripts for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** A subcommand as completion offers it. */
export interface CompletionCommand {
  name: string;
  aliases: string[];
  description: string;
}

/** An option as completion offers it. */
export interface CompletionOption {
  /** `--name`; absent for an option with only a short flag. */
  long?: string;
  /** `-n`, when it has one. */
  short?: string;
  description: string;
  /** The option reads the next word as its value. */
  takesValue: boolean;
  /** The values commander accepts, when it knows them. */
  choices: string[];
}

/** One command of the tree: where it is, what follows it. */
export interface CompletionNode {
  /** `['slipway', 'models', 'list']`. */
  path: string[];
  subcommands: CompletionCommand[];
  options: CompletionOption[];
  /** Positional arguments in order: their known choices (empty when any value, such as a file, goes). */
  args: Array<{ choices: string[]; variadic: boolean }>;
}

// A word the scripts can offer as it is: no blanks, quotes or shell syntax (commander names and choices always are).
const SAFE_WORD = /^[A-Za-z0-9_.,:@%+=/-]+$/;
const safe = (words: readonly string[]): string[] => words.filter((w) => SAFE_WORD.test(w));

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** Walks the program tree: every command reachable from `program`, the implicit `help` commands included. */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const help = new Help();
  const visit = (cmd: Command, path: string[], siblings: CompletionCommand[]): void => {
    const visible = help.visibleCommands(cmd);
    const subcommands = visible.map((c) => ({ name: c.name(), aliases: c.aliases(), description: oneLine(c.summary() || c.description()) }));
    const options = help.visibleOptions(cmd).map(
      (o: Option): CompletionOption => ({
        long: o.long,
        short: o.short,
        description: oneLine(o.description),
        takesValue: o.required || o.optional,
        choices: safe(o.argChoices ?? []),
      }),
    );
    // commander's own `help [command]` takes the name of a sibling command.
    const isImplicitHelp = path.length > 1 && cmd.name() === 'help' && !cmd.parent?.commands.includes(cmd);
    const args = isImplicitHelp
      ? [{ choices: safe(siblings.filter((s) => s.name !== 'help').map((s) => s.name)), variadic: false }]
      : cmd.registeredArguments.map((a: Argument) => ({ choices: safe(a.argChoices ?? []), variadic: a.variadic }));
    nodes.push({ path, subcommands, options, args });
    for (const sub of visible) visit(sub, [...path, sub.name()], subcommands);
  };
  visit(program, [program.name()], []);
  return nodes;
}

// ---- bash ----------------------------------------------------------------------------------

const bashQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** The bash script: `source <(slipway completion bash)`. */
export function bashScript(program: Command): string {
  const nodes = completionTree(program);
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const spec = nodes.map((n) => {
    const cmds = safe(n.subcommands.flatMap((c) => [c.name, ...c.aliases]));
    const opts = safe(n.options.flatMap((o) => (o.long ? [o.long] : [])));
    const valopts = safe(n.options.filter((o) => o.takesValue).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)));
    return `    ${bashQuote(n.path.join(' '))}) cmds=${bashQuote(cmds.join(' '))}; opts=${bashQuote(opts.join(' '))}; valopts=${bashQuote(valopts.join(' '))} ;;`;
  });
  const aliases = nodes.flatMap((n) => n.subcommands.flatMap((c) => c.aliases.filter((a) => SAFE_WORD.test(a)).map((a) => `    ${bashQuote(`${n.path.join(' ')} ${a}`)}) word=${bashQuote(c.name)} ;;`)));
  const choices = nodes.flatMap((n) => [
    ...n.options.flatMap((o) => (o.choices.length === 0 ? [] : [o.long, o.short].filter((f): f is string => !!f).map((f) => `    ${bashQuote(`${n.path.join(' ')} ${f}`)}) words=${bashQuote(o.choices.join(' '))} ;;`))),
    ...n.args.flatMap((a, i) => (a.choices.length === 0 ? [] : [`    ${bashQuote(`${n.path.join(' ')} #${i}${a.variadic ? '+' : ''}`)}) words=${bashQuote(a.choices.join(' '))} ;;`])),
  ]);
  return `# bash completion for ${name}, generated by \`${name} completion bash\` from the commands themselves.
# Load it in this shell:   source <(${name} completion bash)
# Load it in every shell:  echo 'source <(${name} completion bash)' >> ~/.bashrc

# Sets cmds, opts and valopts (options that read a value) for a command path.
${fn}_spec() {
  cmds=''; opts=''; valopts=''
  case "$1" in
${spec.join('\n')}
  esac
}

# Sets word to the command an alias stands for.
${fn}_canonical() {
  word=$2
  case "$1 $2" in
${aliases.join('\n')}
  esac
}

# Sets words to the choices of an option ("PATH --opt") or of a positional argument ("PATH #N").
${fn}_choices() {
  words=''
  case "$1" in
${choices.join('\n')}
  esac
}

${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path=${bashQuote(name)} word i=1 skip='' opt='' npos=0 cmds opts valopts words
  while [ "$i" -lt "$COMP_CWORD" ]; do
    word=\${COMP_WORDS[i]}
    i=$((i + 1))
    if [ -n "$skip" ]; then
      # "--opt=value" arrives as three words: "--opt", "=", "value".
      [ "$word" = '=' ] || skip=''
      continue
    fi
    ${fn}_spec "$path"
    case "$word" in
      --*=*) ;;
      -*) case " $valopts " in *" $word "*) skip=1; opt=$word ;; esac ;;
      *)
        case " $cmds " in
          *" $word "*) ${fn}_canonical "$path" "$word"; path="$path $word"; npos=0 ;;
          *) npos=$((npos + 1)) ;;
        esac ;;
    esac
  done
  ${fn}_spec "$path"
  COMPREPLY=()
  if [ -n "$skip" ]; then
    # The value of an option: its choices, else files (complete -o default).
    [ "$cur" = '=' ] && cur=''
    ${fn}_choices "$path $opt"
    [ -n "$words" ] && COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return 0
  fi
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0 ;;
  esac
  if [ -n "$cmds" ]; then
    COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
    return 0
  fi
  # A positional argument: its choices, else files (complete -o default).
  ${fn}_choices "$path #$npos"
  [ -z "$words" ] && ${fn}_choices "$path #$((npos - 1))+"
  [ -n "$words" ] && COMPREPLY=($(compgen -W "$words" -- "$cur"))
  return 0
}

complete -o default -F ${fn} ${name}
`;
}

// ---- zsh -----------------------------------------------------------------------------------

const zshQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
// _describe splits "name:description" at the first unescaped colon.
const described = (word: string, description: string): string => zshQuote(`${word.replace(/:/g, '\\:')}${description ? `:${description}` : ''}`);

/** The zsh script: save it as `_slipway` in a folder of `$fpath`, or `source <(slipway completion zsh)`. */
export function zshScript(program: Command): string {
  const nodes = completionTree(program);
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const spec = nodes.map((n) => {
    const names = safe(n.subcommands.flatMap((c) => [c.name, ...c.aliases]));
    const cmds = n.subcommands.flatMap((c) => safe([c.name, ...c.aliases]).map((w) => described(w, c.description)));
    const opts = n.options.flatMap((o) => (o.long && SAFE_WORD.test(o.long) ? [described(o.long, o.description)] : []));
    const valopts = safe(n.options.filter((o) => o.takesValue).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)));
    return `    ${zshQuote(n.path.join(' '))}) cmdnames=(${names.join(' ')}); cmds=(${cmds.join(' ')}); opts=(${opts.join(' ')}); valopts=(${valopts.join(' ')}) ;;`;
  });
  const aliases = nodes.flatMap((n) => n.subcommands.flatMap((c) => c.aliases.filter((a) => SAFE_WORD.test(a)).map((a) => `    ${zshQuote(`${n.path.join(' ')} ${a}`)}) word=${zshQuote(c.name)} ;;`)));
  const choices = nodes.flatMap((n) => [
    ...n.options.flatMap((o) => (o.choices.length === 0 ? [] : [o.long, o.short].filter((f): f is string => !!f).map((f) => `    ${zshQuote(`${n.path.join(' ')} ${f}`)}) choices=(${o.choices.join(' ')}) ;;`))),
    ...n.args.flatMap((a, i) => (a.choices.length === 0 ? [] : [`    ${zshQuote(`${n.path.join(' ')} #${i}${a.variadic ? '+' : ''}`)}) choices=(${a.choices.join(' ')}) ;;`])),
  ]);
  return `#compdef ${name}
# zsh completion for ${name}, generated by \`${name} completion zsh\` from the commands themselves.
# Install: ${name} completion zsh > "\${fpath[1]}/_${name}"   (then start a new shell)
# Or load it in this shell, after compinit:  source <(${name} completion zsh)

# Sets cmdnames, cmds and opts ("name:description") and valopts (options that read a value) for a command path.
${fn}_spec() {
  cmdnames=(); cmds=(); opts=(); valopts=()
  case "$1" in
${spec.join('\n')}
  esac
}

# Sets word to the command an alias stands for.
${fn}_canonical() {
  word=$2
  case "$1 $2" in
${aliases.join('\n')}
  esac
}

# Sets choices for an option ("PATH --opt") or a positional argument ("PATH #N").
${fn}_choices() {
  choices=()
  case "$1" in
${choices.join('\n')}
  esac
}

${fn}() {
  local cmdpath=${zshQuote(name)} word skip='' opt='' cur=\${words[CURRENT]}
  local -i i npos=0
  local -a cmdnames cmds opts valopts choices
  for (( i = 2; i < CURRENT; i++ )); do
    word=\${words[i]}
    if [[ -n $skip ]]; then skip=''; continue; fi
    ${fn}_spec "$cmdpath"
    case $word in
      --*=*) ;;
      -*) (( \${valopts[(Ie)$word]} )) && { skip=1; opt=$word; } ;;
      *)
        if (( \${cmdnames[(Ie)$word]} )); then
          ${fn}_canonical "$cmdpath" "$word"; cmdpath="$cmdpath $word"; npos=0
        else
          npos+=1
        fi ;;
    esac
  done
  ${fn}_spec "$cmdpath"
  if [[ -n $skip ]]; then
    ${fn}_choices "$cmdpath $opt"
    if (( $#choices )); then compadd -a choices; else _files; fi
    return
  fi
  if [[ $cur == --*=* ]]; then
    # "--opt=value": complete the value.
    ${fn}_choices "$cmdpath \${cur%%=*}"
    compset -P '*='
    if (( $#choices )); then compadd -a choices; else _files; fi
    return
  fi
  if [[ $cur == -* ]]; then
    _describe -t options 'option' opts
    return
  fi
  if (( $#cmds )); then
    _describe -t commands 'command' cmds
    return
  fi
  ${fn}_choices "$cmdpath #$npos"
  (( $#choices )) || ${fn}_choices "$cmdpath #$((npos - 1))+"
  if (( $#choices )); then compadd -a choices; else _files; fi
}

if [[ $funcstack[1] == ${fn} ]]; then
  # Autoloaded from $fpath: this file is the function's body.
  ${fn} "$@"
else
  compdef ${fn} ${name}
fi
`;
}

// ---- fish ----------------------------------------------------------------------------------

const fishQuote = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The fish script: save it as `~/.config/fish/completions/slipway.fish`. */
export function fishScript(program: Command): string {
  const nodes = completionTree(program);
  const name = program.name();
  const fn = `__${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const cases = nodes.map((n) => {
    const cmds = safe(n.subcommands.flatMap((c) => [c.name, ...c.aliases]));
    const valopts = safe(n.options.filter((o) => o.takesValue).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)));
    return [`        case ${fishQuote(n.path.join(' '))}`, `            set cmds ${cmds.join(' ')}`.trimEnd(), `            set valopts -- ${valopts.join(' ')}`.trimEnd()].join('\n');
  });
  const aliasCases = nodes.flatMap((n) => n.subcommands.flatMap((c) => c.aliases.filter((a) => SAFE_WORD.test(a)).map((a) => `        case ${fishQuote(`${n.path.join(' ')} ${a}`)}\n            set word ${fishQuote(c.name)}`)));
  const lines: string[] = [];
  for (const n of nodes) {
    const at = fishQuote(`${fn}_at ${fishQuote(n.path.join(' '))}`);
    // Where only subcommands or choices can follow, or nothing at all, do not offer files.
    if (n.subcommands.length > 0 || n.args.length === 0) lines.push(`complete -c ${name} -n ${at} -f`);
    for (const c of n.subcommands) {
      for (const w of safe([c.name, ...c.aliases])) lines.push(`complete -c ${name} -n ${at} -f -a ${fishQuote(w)} -d ${fishQuote(c.description)}`);
    }
    for (const o of n.options) {
      const flags = [o.long && SAFE_WORD.test(o.long) ? `-l ${o.long.slice(2)}` : '', o.short && SAFE_WORD.test(o.short) ? `-s ${o.short.slice(1)}` : ''].filter(Boolean).join(' ');
      if (!flags) continue;
      const value = !o.takesValue ? '' : o.choices.length > 0 ? ` -x -a ${fishQuote(o.choices.join(' '))}` : ' -r';
      lines.push(`complete -c ${name} -n ${at} ${flags}${value} -d ${fishQuote(o.description)}`);
    }
    n.args.forEach((a, i) => {
      if (a.choices.length === 0) return;
      const atArg = fishQuote(`${fn}_at ${fishQuote(n.path.join(' '))} ${i}${a.variadic ? '+' : ''}`);
      lines.push(`complete -c ${name} -n ${atArg} -f -a ${fishQuote(a.choices.join(' '))}`);
    });
  }
  return `# fish completion for ${name}, generated by \`${name} completion fish\` from the commands themselves.
# Install: ${name} completion fish > ~/.config/fish/completions/${name}.fish

# Prints the command path the command line is in (e.g. "${name} models list"), then how many arguments follow it.
function ${fn}_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cmdpath ${fishQuote(name)}
    set -l npos 0
    set -l skip 0
    for word in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        set -l cmds
        set -l valopts
        switch $cmdpath
${cases.join('\n')}
        end
        switch $word
            case '--*=*'
            case '-*'
                contains -- $word $valopts; and set skip 1
            case '*'
                if contains -- $word $cmds
                    switch "$cmdpath $word"
${aliasCases.join('\n')}
                    end
                    set cmdpath "$cmdpath $word"
                    set npos 0
                else
                    set npos (math $npos + 1)
                end
        end
    end
    echo $cmdpath
    echo $npos
end

# True when the command line is at PATH, and (with N, or N+ for "N or more") at its argument N.
function ${fn}_at --argument-names cmdpath arg
    set -l here (${fn}_path)
    test "$here[1]" = "$cmdpath"; or return 1
    test -z "$arg"; and return 0
    if string match -q -- '*+' $arg
        test $here[2] -ge (string trim -r -c + -- $arg)
    else
        test $here[2] -eq $arg
    end
end

${lines.join('\n')}
`;
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell, program: Command): string {
  if (shell === 'bash') return bashScript(program);
  if (shell === 'zsh') return zshScript(program);
  return fishScript(program);
}

/** Registers `slipway completion`. */
export function register(program: Command): void {
  const completion = program
    .command('completion')
    .description('Print a shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell to write the script for').choices(SHELLS))
    .action(
      runAction(async (shell: Shell, _flags: unknown, cmd: Command) => {
        let root = cmd;
        while (root.parent) root = root.parent;
        process.stdout.write(completionScript(shell, root));
      }),
    );
  addHelpEpilogue(completion, {
    examples: [
      'source <(slipway completion bash)  # bash, this shell; add the line to ~/.bashrc for every new one',
      'slipway completion zsh > "${fpath[1]}/_slipway"  # zsh; new shells load it (compinit must run in ~/.zshrc)',
      'slipway completion fish > ~/.config/fish/completions/slipway.fish  # fish; new shells load it',
    ],
    exitCodes: { 1: 'the script could not be written', 2: 'a shell other than bash, zsh or fish' },
    docs: ['cli.md'],
  });
}
