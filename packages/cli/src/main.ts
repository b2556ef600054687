import { errorBody } from "@modelreg/gateway-express";
import { Code, preconditionViolations, RegistryError } from "@modelreg/registry-client";
import { type Command, CommanderError } from "commander";
import { booleanWord } from "./config";
import type { CliIo } from "./context";
import { CliError } from "./errors";
import { ExitCode, exitCodeOfGrpcCode, grpcCodeOfExitCode } from "./exit-codes";
import { createProgram } from "./program";

/** The process's streams, environment and working directory: what the `modelreg` bin runs with. */
export function processIo(): CliIo {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  };
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim();

/** A RegistryError as one line: the message, the code, the ErrorInfo reason, field and precondition violations. */
export function describeRegistryError(error: RegistryError): string {
  const code = Code[error.code] ?? "UNKNOWN";
  const parts = [`${oneLine(error.message)} (${code}${error.reason ? `, ${error.reason}` : ""})`];
  for (const v of error.violations) {
    // The registry's message often quotes its violations already: say each once.
    if (!error.message.includes(v.description)) parts.push(`${v.field}: ${oneLine(v.description)}`);
  }
  for (const v of preconditionViolations(error)) {
    if (error.message.includes(v.description)) continue;
    parts.push(`missing ${v.type.toLowerCase()} ${v.subject}: ${oneLine(v.description)}`);
  }
  return parts.join("; ");
}

interface Report {
  exitCode: number;
  /** The human line, without the `modelreg: ` prefix; none for help and version. */
  message?: string;
  /** The error as a RegistryError, for `--json`. */
  registryError: RegistryError;
}

function reportOf(error: unknown, debug: boolean): Report {
  if (error instanceof CommanderError) {
    const message = error.exitCode === 0 || error.code === "commander.help" ? undefined : error.message;
    const text = message?.replace(/^error: /, "");
    return {
      exitCode: error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE,
      ...(text ? { message: oneLine(text) } : {}),
      registryError: new RegistryError(Code.INVALID_ARGUMENT, text ?? "usage"),
    };
  }
  if (error instanceof CliError) {
    return {
      exitCode: error.exitCode,
      message: oneLine(error.message),
      registryError: new RegistryError(grpcCodeOfExitCode(error.exitCode), error.message),
    };
  }
  if (error instanceof RegistryError) {
    return {
      exitCode: exitCodeOfGrpcCode(error.code),
      message: describeRegistryError(error),
      registryError: error,
    };
  }
  const message = debug
    ? `unexpected error: ${error instanceof Error ? error.message : String(error)}`
    : "unexpected error (run with --debug or MODELREG_DEBUG=1 for details)";
  return { exitCode: ExitCode.FAILURE, message, registryError: new RegistryError(Code.INTERNAL, message) };
}

function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  const options = end === -1 ? argv : argv.slice(0, end);
  return options.includes("--json") || options.includes("--ndjson");
}

function isDebug(argv: readonly string[], io: CliIo): boolean {
  const flag = io.env.MODELREG_DEBUG;
  return (
    argv.includes("--debug") || (flag !== undefined && flag.trim() !== "" && booleanWord(flag) !== false)
  );
}

/**
 * Runs `modelreg` with `argv` (the arguments after the executable and
 * script) and returns its exit code ({@link ExitCode}); never exits the
 * process. Output goes to `io` (the process's by default). An error is one
 * line on stderr (`modelreg: <message>`), or with `--json`/`--ndjson` the
 * REST gateway's JSON error body; `--debug` adds the stack of an unexpected
 * error.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let running: Command | undefined;
  try {
    const program = createProgram(io);
    program.hook("preAction", (_hooked, action) => {
      running = action;
    });
    await program.parseAsync([...argv], { from: "user" });
    return ExitCode.OK;
  } catch (error) {
    const debug = isDebug(argv, io);
    const report = reportOf(error, debug);
    if (report.message === undefined) return report.exitCode;
    const options = running?.opts<{ json?: boolean; ndjson?: boolean }>();
    if (wantsJson(argv) || options?.json === true || options?.ndjson === true) {
      io.stderr.write(`${JSON.stringify(errorBody(report.registryError))}\n`);
    } else {
      io.stderr.write(`modelreg: ${report.message}\n`);
    }
    if (
      debug &&
      !(error instanceof CliError) &&
      !(error instanceof CommanderError) &&
      error instanceof Error
    ) {
      io.stderr.write(`${error.stack ?? ""}\n`);
    }
    return report.exitCode;
  }
}
