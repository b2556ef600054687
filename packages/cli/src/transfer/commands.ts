import { fstatSync, renameSync, rmSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { resolve } from "node:path";
import { finished } from "node:stream/promises";
import cliProgress from "cli-progress";
import { type Command, InvalidArgumentError, Option } from "commander";
import { withClient } from "../client/connect";
import { addClientOptions, type ClientOptions, integerParser } from "../client/options";
import type { CliIo, RegisterCommands } from "../context";
import { CliError, CliUsageError } from "../errors";
import { ExitCode } from "../exit-codes";
import { outputFormatOf, writeJson, writeOut } from "../output";
import { exportRegistry } from "./export";
import { type ImportSummary, importRegistry, isRequestIdPrefix } from "./import";
import { printWatch, type WatchProgress } from "./watch";

interface ExportCommandOptions extends ClientOptions {
  filter?: string;
  output?: string;
}

interface ImportCommandOptions extends ClientOptions {
  input?: string;
  requestIdPrefix: string;
}

interface WatchCommandOptions extends ClientOptions {
  filter?: string;
  afterRevision?: string;
  progressInterval?: number;
}

function revisionParser(value: unknown): string {
  const text = String(value).trim();
  if (!/^\d{1,19}$/.test(text))
    throw new InvalidArgumentError(`expected a revision (a number >= 0), got ${text}`);
  return text;
}

function prefixParser(value: unknown): string {
  const text = String(value);
  if (!isRequestIdPrefix(text)) throw new InvalidArgumentError("1-64 printable ASCII characters, no spaces");
  return text;
}

/** The `.partial` file an export to `--output` is written to, opened before anything is read. */
async function openPartial(options: ExportCommandOptions, target: string) {
  const partial = `${target}.partial`;
  try {
    const handle = await open(partial, "w");
    const out = handle.createWriteStream();
    // Errors surface in writeLine and finished(); without a listener one would crash the process.
    out.on("error", () => {});
    return { partial, out };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unwritable";
    throw new CliUsageError(`--output ${options.output}: cannot write ${partial} (${reason})`);
  }
}

/** Writes the export to `--output` through a temporary file renamed at the end (no half file), or to stdout. */
async function runExport(options: ExportCommandOptions, io: CliIo): Promise<void> {
  const format = outputFormatOf(options);
  const target = options.output && options.output !== "-" ? resolve(io.cwd, options.output) : undefined;
  const file = target ? await openPartial(options, target) : undefined;
  const out = file?.out ?? io.stdout;
  const counts = await withClient(options, io, async (client, call) => {
    try {
      const result = await exportRegistry(client, out, {
        ...(options.filter ? { filter: options.filter } : {}),
        ...(call.signal ? { signal: call.signal } : {}),
      });
      if (file && target) {
        file.out.end();
        await finished(file.out);
        renameSync(file.partial, target);
      }
      return result;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (file && typeof code === "string" && code.startsWith("E")) {
        throw new CliError(`--output ${options.output}: cannot write it (${code})`, ExitCode.FAILURE);
      }
      throw error;
    } finally {
      if (file) {
        file.out.destroy();
        rmSync(file.partial, { force: true });
      }
    }
  });
  const where = target ? ` to ${options.output}` : "";
  if (format === "table") {
    await writeOut(io.stderr, `exported ${counts.models} models and ${counts.aliases} aliases${where}\n`);
  } else if (target) {
    await writeJson(io, { models: counts.models, aliases: counts.aliases, output: target });
  }
}

/** `--input` opened for reading (a usage error when it is missing, a folder or unreadable), or stdin. */
async function inputOf(
  options: ImportCommandOptions,
  io: CliIo,
): Promise<{ input: NodeJS.ReadableStream; size?: number }> {
  if (options.input && options.input !== "-") {
    const file = resolve(io.cwd, options.input);
    const cannot = (reason: string) =>
      new CliUsageError(`--input ${options.input}: cannot read it (${reason})`);
    let handle: FileHandle;
    try {
      handle = await open(file, "r");
    } catch (error) {
      throw cannot((error as NodeJS.ErrnoException).code ?? "unreadable");
    }
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw cannot(stat.isDirectory() ? "it is a folder" : "not a file");
    }
    // Read errors reach ExportReader through its own listener; this one keeps them from crashing.
    const input = handle.createReadStream();
    input.on("error", () => {});
    return { input, size: stat.size };
  }
  if (io.stdin.isTTY) {
    throw new CliUsageError(
      "models import reads an export from stdin: pipe one in (< models.ndjson) or use --input",
    );
  }
  const fd = (io.stdin as { fd?: unknown }).fd;
  try {
    const stat = typeof fd === "number" ? fstatSync(fd) : undefined;
    return stat?.isFile() ? { input: io.stdin, size: stat.size } : { input: io.stdin };
  } catch {
    return { input: io.stdin };
  }
}

/** A progress bar on stderr (a terminal only): over the input's bytes when its size is known. */
function progressBar(io: CliIo, size: number | undefined) {
  const counts = "{models} models, {aliases} aliases";
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr as NodeJS.WritableStream as never,
      format: size ? `importing [{bar}] {percentage}% | ${counts}` : `importing ${counts}`,
      hideCursor: false,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(size ?? 1, 0, { models: 0, aliases: 0 });
  return bar;
}

function summaryText(summary: ImportSummary): string {
  const { models, aliases } = summary;
  const replays = summary.replaysSeparated ? "" : " (including models an earlier run created)";
  const lines = [
    `models: ${models.created} created${replays}, ${models.alreadyPresent} already present, ` +
      `${models.differs} present with different content, ${models.failed} failed`,
    `aliases: ${aliases.set} set, ${aliases.alreadyPresent} already present, ${aliases.failed} failed`,
    ...summary.failures.map((f) => `  line ${f.line} ${f.item}: ${f.code}: ${f.message}`),
  ];
  return `${lines.join("\n")}\n`;
}

function summaryJson(summary: ImportSummary) {
  return {
    models: { ...summary.models },
    aliases: { ...summary.aliases },
    failures: summary.failures.map((f) => ({ ...f })),
    replaysSeparated: summary.replaysSeparated,
    ...(summary.stoppedBy
      ? { stoppedAt: { line: summary.stoppedBy.line, reason: summary.stoppedBy.message } }
      : {}),
  };
}

async function runImport(options: ImportCommandOptions, io: CliIo): Promise<void> {
  const format = outputFormatOf(options);
  const { input, size } = await inputOf(options, io);
  const bar = format === "table" && io.stderr.isTTY ? progressBar(io, size) : undefined;
  let summary: ImportSummary;
  try {
    summary = await withClient(options, io, (client, call) =>
      importRegistry(client, input, {
        requestIdPrefix: options.requestIdPrefix,
        ...(call.signal ? { signal: call.signal } : {}),
        ...(bar ? { onProgress: (p) => bar.update(size ? p.bytes : 0, { ...p }) } : {}),
      }),
    );
  } finally {
    bar?.stop();
    // A file we opened is closed; stdin is the caller's (the bin exits once the command returns).
    if (input !== io.stdin) (input as NodeJS.ReadableStream & { destroy(): void }).destroy();
  }
  if (format === "table") await writeOut(io.stdout, summaryText(summary));
  else await writeJson(io, summaryJson(summary));
  if (summary.stoppedBy) {
    throw new CliUsageError(`${summary.stoppedBy.message}; the lines before it were imported, none after`);
  }
  const failed = summary.models.failed + summary.aliases.failed;
  if (failed > 0) {
    throw new CliError(
      `${summary.models.failed} models and ${summary.aliases.failed} aliases could not be imported`,
      ExitCode.INVALID,
    );
  }
  if (summary.models.differs > 0) {
    throw new CliError(
      `${summary.models.differs} models are in the registry with different content (left unchanged)`,
      ExitCode.CONFLICT,
    );
  }
}

async function runWatch(options: WatchCommandOptions, io: CliIo): Promise<void> {
  const format = outputFormatOf(options);
  const stop = new AbortController();
  const onSigterm = () => stop.abort();
  process.once("SIGTERM", onSigterm);
  const progress: WatchProgress = { revision: undefined };
  const resumeHint = () =>
    progress.revision === undefined
      ? undefined
      : writeOut(
          io.stderr,
          `watch stopped after revision ${progress.revision} (resume: --after-revision ${progress.revision})\n`,
        );
  try {
    await withClient(options, io, async (client, call) => {
      const signal = call.signal ? AbortSignal.any([call.signal, stop.signal]) : stop.signal;
      try {
        await printWatch(
          client,
          io,
          {
            format,
            signal,
            ...(options.filter ? { filter: options.filter } : {}),
            ...(options.afterRevision !== undefined ? { afterRevision: options.afterRevision } : {}),
            ...(options.progressInterval !== undefined
              ? { progressIntervalMs: options.progressInterval }
              : {}),
          },
          progress,
        );
      } catch (error) {
        // SIGTERM: a clean stop (exit 0); SIGINT: withClient reports it (exit 130).
        if (stop.signal.aborted && !call.signal?.aborted) return;
        throw error;
      }
    });
  } finally {
    process.removeListener("SIGTERM", onSigterm);
    await resumeHint();
  }
}

function exportCommand(models: Command, io: CliIo): void {
  const command = models
    .command("export")
    .description("write every model and alias as NDJSON (to stdout, or --output FILE), for models import")
    .addOption(new Option("--filter <filter>", "only the models matching this filter (and their aliases)"))
    .addOption(new Option("--output <file>", "write to this file instead of stdout (- for stdout)"))
    .addHelpText(
      "after",
      '\nFormat (version 1): a header line {"kind":"modelreg-export","version":1,...}, one {"kind":"model",...}' +
        '\nline per model (oldest first), one {"kind":"alias",...} line per alias, and {"kind":"end",...} with' +
        "\nthe counts. The summary goes to stderr (with --output and --json: a JSON summary on stdout)." +
        "\nThe models are listed page by page, not at one instant: a model created meanwhile may be included.",
    );
  addClientOptions(command).action((options: ExportCommandOptions) => runExport(options, io));
}

function importCommand(models: Command, io: CliIo): void {
  const command = models
    .command("import")
    .description("read a models export (NDJSON) from stdin or --input FILE and create what is missing")
    .addOption(new Option("--input <file>", "read this file instead of stdin (- for stdin)"))
    .addOption(
      new Option(
        "--request-id-prefix <prefix>",
        "first part of each model's request id (<prefix>:<id>:<etag>)",
      )
        .env("MODELREG_IMPORT_REQUEST_ID_PREFIX")
        .default("import")
        .argParser(prefixParser),
    )
    .addHelpText(
      "after",
      "\nExit codes: 0 everything is in the registry (created now or already present), 5 some items failed" +
        "\n(listed in the summary), 3 none failed but some name@version is in the registry with different" +
        "\ncontent (listed; never changed), 1 the input is not a complete export (everything before the bad" +
        "\nline was imported). Running the same import again is safe: nothing is created twice.",
    );
  addClientOptions(command).action((options: ImportCommandOptions) => runImport(options, io));
}

function watchCommand(models: Command, io: CliIo): void {
  const command = models
    .command("watch")
    .description(
      "print every change as it is committed, until Ctrl-C (one JSON object per line with --ndjson)",
    )
    .addOption(new Option("--filter <filter>", "only changes of models matching this filter"))
    .addOption(
      new Option("--after-revision <revision>", "start after this revision (default: now)").argParser(
        revisionParser,
      ),
    )
    .addOption(
      new Option(
        "--progress-interval <ms>",
        "ask for a progress line (with --ndjson) after this many quiet ms",
      ).argParser(integerParser(100)),
    )
    .addHelpText(
      "after",
      "\nCtrl-C stops it with exit code 130 and SIGTERM with 0; either prints the revision to resume after" +
        "\n(--after-revision) on stderr. A lost connection is resumed without missing or repeating a change.",
    );
  addClientOptions(command).action((options: WatchCommandOptions) => runWatch(options, io));
}

/** `modelreg models export|import|watch`, added to the `models` command. */
export const registerTransferCommands: RegisterCommands = (models, io) => {
  exportCommand(models, io);
  importCommand(models, io);
  watchCommand(models, io);
};
