/**
 * Which groups of commands a command line needs registered. Building every command's options is
 * the largest part of qtool's own start-up (see BENCHMARKS.md), and a command line can only run a
 * command whose name it contains. So a group is registered when one of its names is a word of the
 * line; the whole tree when the line asks for help or completion, or when its first word that is
 * not an option names no command (a typo then gets commander's suggestions from every command).
 */
export function groupsToRegister<Group extends { names: readonly string[] }>(
  args: readonly string[],
  groups: readonly Group[],
): Group[] {
  const named = (word: string) => groups.some((group) => group.names.includes(word));
  const firstWord = args.find((arg) => !arg.startsWith('-'));
  const wholeTree =
    firstWord === undefined ||
    !named(firstWord) ||
    args.some((arg) => arg === 'help' || arg === 'completion' || arg === '--help' || arg === '-h');
  if (wholeTree) return [...groups];
  return groups.filter((group) => group.names.some((name) => args.includes(name)));
}
