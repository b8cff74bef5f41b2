/** commander's reading of get-token's argv, for tests that hold other readers against it. */
import { buildProgram, type ParsedCommand } from '../../src/cli/program.js';
import type { RawFlags } from '../../src/cli/flag-spec.js';

/** Parses get-token argv with commander, as the full CLI does. */
export async function viaCommander(argv: readonly string[]): Promise<RawFlags> {
  let parsed: ParsedCommand | undefined;
  const program = buildProgram('test', { writeOut: () => {}, writeErr: () => {} }, async (command) => {
    parsed = command;
  });
  await program.parseAsync(['get-token', ...argv], { from: 'user' });
  if (parsed === undefined) throw new Error('no command parsed');
  return parsed.raw;
}
