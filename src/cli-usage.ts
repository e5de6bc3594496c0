// What every kms-engine command does with its arguments' `--help`: its usage on stdout and exit 0; the same
// line on stderr and exit 2 when the arguments are wrong.

/** The arguments are only `--help` or `-h`. */
export const asksForHelp = (args: readonly string[]): boolean => args.length === 1 && (args[0] === '--help' || args[0] === '-h');

/** Prints `line` as the answer to `--help` (stdout, 0) or to arguments the command cannot take (stderr, 2). */
export function usage(line: string, args: readonly string[], output: { out(line: string): void; err(line: string): void } = {
  out: (text) => console.log(text), err: (text) => console.error(text),
}): number {
  if (asksForHelp(args)) {
    output.out(line);
    return 0;
  }
  output.err(line);
  return 2;
}
