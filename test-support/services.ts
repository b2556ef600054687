/** For tests in any package that need a service running beside them (PostgreSQL, MariaDB). */

/**
 * For the test files that need a database server (PostgreSQL, MariaDB): is
 * it there? Under CI (`CI=true`) a missing server fails the file loudly;
 * elsewhere the file's tests are skipped with the reason printed.
 */
export interface ServiceCheck {
  /** Names the service in messages, e.g. "PostgreSQL". */
  readonly service: string;
  /** The test file, for the skip message. */
  readonly file: string;
  /** Where it is expected, without credentials, e.g. "127.0.0.1:5432". */
  readonly where: string;
  /** The environment variable that points the tests at another server. */
  readonly envVar: string;
  /** What {@link envVar} holds, for the message. Default: "a server's URL". */
  readonly envVarHolds?: string | undefined;
  /** How to start the service, for the message. */
  readonly howToStart: string;
  /** What to do, before {@link howToStart} in the message. Default: "Start it". */
  readonly remedy?: string | undefined;
  /** Connects and runs a trivial query; rejects if the server cannot be used. */
  readonly probe: () => Promise<void>;
}

/** Resolves `true` when the service answers; otherwise throws under CI, or prints why and resolves `false`. */
export async function requireService(check: ServiceCheck): Promise<boolean> {
  try {
    await check.probe();
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message || error.constructor.name : String(error);
    const message =
      `${check.service} is not reachable at ${check.where} (${reason}). ` +
      `${check.remedy ?? "Start it"} (${check.howToStart}), ` +
      `or set ${check.envVar} to ${check.envVarHolds ?? "a server's URL"}.`;
    if (process.env.CI === "true") {
      throw new Error(
        `${check.file}: ${message} Under CI (CI=true) these tests must run, so the file fails.`,
      );
    }
    process.stderr.write(`\n[skipped] ${check.file}: ${message}\n\n`);
    return false;
  }
}

/** host:port/path of a URL, without credentials. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.host}${parsed.pathname}`;
}
