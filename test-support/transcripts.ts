import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";

/** One `$ command` of a README console block and the output printed under it. */
export interface TranscriptStep {
  readonly command: string;
  readonly output: string;
}

/** Every step of every ```console block in a Markdown file. */
export function readTranscript(markdownPath: string): TranscriptStep[] {
  const steps: TranscriptStep[] = [];
  const blocks = readFileSync(markdownPath, "utf8").matchAll(/```console\n([\s\S]*?)```/g);
  for (const [, block = ""] of blocks) {
    let current: { command: string; output: string[] } | undefined;
    for (const line of block.split("\n")) {
      if (line.startsWith("$ ")) {
        if (current) steps.push({ command: current.command, output: current.output.join("\n").trim() });
        current = { command: line.slice(2), output: [] };
      } else {
        current?.output.push(line);
      }
    }
    if (current) steps.push({ command: current.command, output: current.output.join("\n").trim() });
  }
  return steps;
}

/** Replaces what differs from run to run (ids, times, request ids) with placeholders. */
export function normalizeOutput(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, "<time>")
    .trim();
}

/** Runs a shell command and returns what it printed on stdout. */
export function runShell(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("sh", ["-c", command], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
