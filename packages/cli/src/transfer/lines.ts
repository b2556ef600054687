import { createInterface } from "node:readline";
import { ExportFormatError, type ExportLine, parseExportLine } from "./format";

/** One parsed line of an export, with its 1-based line number. */
export interface NumberedLine {
  readonly line: number;
  readonly entry: ExportLine;
}

/**
 * Reads an export one line at a time (memory holds one line), checking its structure as it goes: the
 * header first, then models, then aliases, then the `end` line with matching counts, then nothing.
 * Blank lines are skipped. Every violation is an {@link ExportFormatError} naming the line.
 */
export class ExportReader {
  private readonly lines: AsyncIterator<string>;
  private readonly readline: ReturnType<typeof createInterface>;
  private lineNumber = 0;
  private section: "start" | "models" | "aliases" | "ended" = "start";
  private models = 0;
  private aliases = 0;
  private pushedBack: NumberedLine | undefined;
  /** An error of the input stream (readline does not pass them on): thrown by the next {@link next}. */
  private inputError: Error | undefined;
  /** Bytes read so far (UTF-8, with the newlines), for a progress bar over a file of known size. */
  bytesRead = 0;

  constructor(input: NodeJS.ReadableStream) {
    this.readline = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    this.lines = this.readline[Symbol.asyncIterator]();
    input.on("error", (error: Error) => {
      this.inputError ??= error;
      this.readline.close();
    });
  }

  /** Stops reading the input (it is paused, not closed: the caller owns it). */
  close(): void {
    this.readline.close();
  }

  /** Whether the `end` line was read (a complete export). */
  get ended(): boolean {
    return this.section === "ended";
  }

  /** The last line number read. */
  get lastLine(): number {
    return this.lineNumber;
  }

  /** Gives `line` back: the next {@link next} returns it again. */
  unread(line: NumberedLine): void {
    this.pushedBack = line;
  }

  /** The next line after the header, or undefined at the end of the input. */
  async next(): Promise<NumberedLine | undefined> {
    if (this.pushedBack) {
      const line = this.pushedBack;
      this.pushedBack = undefined;
      return line;
    }
    for (;;) {
      const read = await this.lines.next().catch((error: Error) => {
        this.inputError ??= error;
        return { done: true, value: undefined } as const;
      });
      if (this.inputError) {
        const reason = (this.inputError as NodeJS.ErrnoException).code ?? this.inputError.message;
        throw new ExportFormatError(this.lineNumber + 1, `cannot read the input (${reason})`);
      }
      if (read.done) {
        if (this.section === "start") {
          throw new ExportFormatError(0, "the input is empty: not a modelreg export");
        }
        return undefined;
      }
      this.lineNumber++;
      this.bytesRead += Buffer.byteLength(read.value) + 1;
      if (read.value.trim() === "") continue;
      const entry = parseExportLine(read.value, this.lineNumber);
      if (this.accept(entry)) return { line: this.lineNumber, entry };
    }
  }

  /** Checks `entry` against the order of the sections; false for the header (read, not returned). */
  private accept(entry: ExportLine): boolean {
    const line = this.lineNumber;
    if (this.section === "ended") throw new ExportFormatError(line, 'a line after the "end" line');
    if (this.section === "start") {
      if (entry.kind !== "header") {
        throw new ExportFormatError(
          line,
          'not a modelreg export: the first line must be {"kind":"modelreg-export",...}',
        );
      }
      this.section = "models";
      return false;
    }
    switch (entry.kind) {
      case "header":
        throw new ExportFormatError(line, "a second header line");
      case "model":
        if (this.section === "aliases") throw new ExportFormatError(line, "a model after the aliases");
        this.models++;
        return true;
      case "alias":
        this.section = "aliases";
        this.aliases++;
        return true;
      case "end":
        if (entry.models !== this.models || entry.aliases !== this.aliases) {
          throw new ExportFormatError(
            line,
            `the "end" line counts ${entry.models} models and ${entry.aliases} aliases, the input holds ` +
              `${this.models} and ${this.aliases}`,
          );
        }
        this.section = "ended";
        return true;
    }
  }
}
