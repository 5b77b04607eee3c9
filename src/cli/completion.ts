import type { Command, Option } from 'commander';
import { CONNECTION_FILE_OPTIONS } from './connection-options.js';

/** What completion needs to know of the command tree, read from commander so it never drifts. */
export interface CompletionModel {
  globalOptions: string[];
  /** Each command path, its options, and the closed set of values its argument takes, if any. */
  commands: { path: string; options: string[]; values: string[] }[];
  /** Options whose value is one of a closed set. */
  choices: Record<string, string[]>;
  /** Options whose value is a file name. */
  fileOptions: string[];
}

const FILE_OPTIONS = new Set(['--file', ...CONNECTION_FILE_OPTIONS]);

export function completionModel(program: Command): CompletionModel {
  const choices: Record<string, string[]> = {};
  const flagsOf = (options: readonly Option[]) =>
    // Hidden options (the program's copies of the connection options) are offered where they are shown.
    options
      .filter((option) => !option.hidden)
      .flatMap((option) => {
        if (option.argChoices) choices[option.long ?? ''] = [...option.argChoices];
        return [option.long, option.short].filter((flag): flag is string => Boolean(flag));
      });
  const commands: CompletionModel['commands'] = [];
  const walk = (command: Command, prefix: string) => {
    for (const sub of command.commands) {
      const path = prefix === '' ? sub.name() : `${prefix} ${sub.name()}`;
      const values = sub.registeredArguments.flatMap((argument) => argument.argChoices ?? []);
      commands.push({ path, options: [...flagsOf(sub.options), '--help'], values });
      walk(sub, path);
    }
  };
  walk(program, '');
  const globalOptions = [...flagsOf(program.options), '--help'];
  return { globalOptions, commands, choices, fileOptions: [...FILE_OPTIONS] };
}

/**
 * A bash completion script: subcommands, then each subcommand's own options plus the global ones,
 * closed sets of values (--on-lose), file names for --file and saved profile names for --profile.
 */
export function bashCompletion(model: CompletionModel): string {
  const topLevel = model.commands.filter((c) => !c.path.includes(' ')).map((c) => c.path);
  const subOf = (parent: string) =>
    model.commands.filter((c) => c.path.startsWith(`${parent} `)).map((c) => c.path.slice(parent.length + 1));
  const optionCases = model.commands
    .map((c) => `    '${c.path}') opts="$opts ${c.options.join(' ')}"; values='${c.values.join(' ')}' ;;`)
    .join('\n');
  const subcommandCases = topLevel
    .filter((name) => subOf(name).length > 0)
    .map((name) => `    '${name}') subs='${subOf(name).join(' ')}' ;;`)
    .join('\n');
  const choiceCases = Object.entries(model.choices)
    .map(
      ([flag, values]) => `    ${flag}) COMPREPLY=($(compgen -W '${values.join(' ')}' -- "$cur")); return ;;`,
    )
    .join('\n');
  return `# qtool completion for bash. Load it with:  eval "$(qtool completion bash)"
# or save it:  qtool completion bash > ~/.local/share/bash-completion/completions/qtool
_qtool_profiles() {
  local file
  for file in "\${XDG_CONFIG_HOME:-$HOME/.config}/qtool/config.json" ./qtool.config.json; do
    [ -r "$file" ] && sed -n 's/^    "\\([^"]*\\)": {$/\\1/p' "$file"
  done
}
_qtool() {
  local cur prev path word subs opts values i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
${choiceCases}
    ${model.fileOptions.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --profile) COMPREPLY=($(compgen -W "$(_qtool_profiles)" -- "$cur")); return ;;
  esac
  # The command path typed so far: words that are not options nor option values.
  path=''
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      -*) ;;
      *) case " ${topLevel.join(' ')} " in *" $word "*) [ -z "$path" ] && path="$word" ;; esac
         [ -n "$path" ] && [ "$path" != "$word" ] && case " $(_qtool_subs "$path") " in *" $word "*) path="$path $word" ;; esac ;;
    esac
  done
  opts='${model.globalOptions.join(' ')}'
  values=''
  case "$path" in
${optionCases}
  esac
  if [[ "$cur" != -* ]]; then
    if [ -z "$path" ]; then COMPREPLY=($(compgen -W '${topLevel.join(' ')}' -- "$cur")); return; fi
    subs="$(_qtool_subs "$path")"
    if [ -n "$subs" ] && [[ "$path" != *' '* ]]; then COMPREPLY=($(compgen -W "$subs" -- "$cur")); return; fi
    if [ -n "$values" ]; then COMPREPLY=($(compgen -W "$values" -- "$cur")); return; fi
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
_qtool_subs() {
  local subs=''
  case "$1" in
${subcommandCases}
  esac
  echo "$subs"
}
complete -o default -F _qtool qtool
`;
}

/** zsh runs the bash script through bashcompinit, so both shells complete alike. */
export function zshCompletion(model: CompletionModel): string {
  return `#compdef qtool
# qtool completion for zsh. Load it with:  eval "$(qtool completion zsh)"
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(model).split('\n').slice(2).join('\n')}`;
}
