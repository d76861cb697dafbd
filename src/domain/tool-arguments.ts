// The tool arguments an MCP server may show policy (AuthZEN `context.tool.arguments`): the broker's bound, checked by the guard too.

/** At most this many arguments. */
export const MAX_TOOL_ARGUMENTS = 32;
/** An argument name is 1 to this many characters. */
export const MAX_TOOL_ARGUMENT_NAME = 64;
/** A string argument is at most this many characters. */
export const MAX_TOOL_ARGUMENT_STRING = 1024;

/**
 * Why `args` cannot be shown to policy (the first argument out of bounds, named), or undefined when
 * every entry is a string of at most 1024 characters, a boolean or a safe integer, under a name of
 * 1 to 64 characters, at most 32 of them.
 */
export function toolArgumentsFault(args: Readonly<Record<string, unknown>>): string | undefined {
  const names = Object.keys(args);
  if (names.length > MAX_TOOL_ARGUMENTS)
    return `at most ${MAX_TOOL_ARGUMENTS} arguments are shown to policy`;
  for (const name of names) {
    if (name.length < 1 || name.length > MAX_TOOL_ARGUMENT_NAME)
      return `an argument name is 1 to ${MAX_TOOL_ARGUMENT_NAME} characters`;
    const value = args[name];
    const fits =
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isSafeInteger(value)) ||
      (typeof value === 'string' && value.length <= MAX_TOOL_ARGUMENT_STRING);
    if (!fits)
      return `argument ${JSON.stringify(name.slice(0, MAX_TOOL_ARGUMENT_NAME))} must be a string of at most ${MAX_TOOL_ARGUMENT_STRING} characters, a boolean or a safe integer`;
  }
  return undefined;
}
