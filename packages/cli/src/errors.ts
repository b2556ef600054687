import { ExitCode } from "./exit-codes";

/**
 * An error a command throws with a message meant for the user and the exit
 * code `runCli` returns for it. `runCli` prints the message as is (one line,
 * `modelreg: <message>`), so it must never carry a secret.
 */
export class CliError extends Error {
  override readonly name: string = "CliError";
  /** The exit code `runCli` returns (one of {@link ExitCode}). */
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode = ExitCode.FAILURE, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/**
 * A usage error found before anything was done: a malformed argument or
 * value, a bad config file, options that exclude each other. Exit code 1.
 */
export class CliUsageError extends CliError {
  override readonly name: string = "CliUsageError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.USAGE, options);
  }
}

/** A command stopped by SIGINT. Exit code 130. */
export class CliInterruptedError extends CliError {
  override readonly name: string = "CliInterruptedError";

  constructor(message = "interrupted") {
    super(message, ExitCode.INTERRUPTED);
  }
}
