/**
 * How load-test messages name an option. The HTTP API, YAML specs and library
 * callers spell options by spec key (`rate`); the CLI passes a naming that adds
 * its flag (`--rate (spec key: rate)`), so each user reads the name they typed.
 */

/** Names options in messages. */
export interface OptionNaming {
  /** The name where a value is missing or invalid, e.g. `rate` or `--rate (spec key: rate)`. */
  full(key: string): string;
  /** A shorter name for options merely mentioned as alternatives, e.g. `stages` or `--stages`. */
  brief(key: string): string;
}

/** Spec keys, as the HTTP API and YAML specs spell them. */
export const specKeyNaming: OptionNaming = { full: (key) => key, brief: (key) => key };
