import { createHash, timingSafeEqual } from "node:crypto";
import { type FSWatcher, type StatWatcher, unwatchFile, watch, watchFile } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { PeerCertificate } from "node:tls";
import { Code, type Logger, ModelService, RegistryError } from "@modelreg/proto";
import type { Authorize, CallInfo } from "../authorize";
import { methodPath, type Principal } from "../context";
import { type AuthFile, parseAuthFile } from "./auth-file";
import { certificateNames } from "./certificate";
import { checkMethodRoles, hasRole, methodRoles, type Role } from "./roles";

/** Options for {@link createTokenAuth}. */
export interface TokenAuthOptions {
  /** Path of the auth file (JSON: `tokens` and `certificates`; see the README). */
  readonly file: string;
  /** Where reloads are logged (never a token, nor a hash). Default: nowhere. */
  readonly logger?: Logger;
  /** Reload when the file changes on disk. Default true. */
  readonly watch?: boolean;
  /** How often the file is also polled for changes (a safety net under the watch), in ms. Default 2000. */
  readonly pollIntervalMs?: number;
}

/** The built-in authorizer; see {@link createTokenAuth}. */
export interface TokenAuth {
  /** The hook to pass as `createRegistryServer({ authorize })`. */
  readonly authorize: Authorize;
  /**
   * Reads the file again (the reference deployment calls it on SIGHUP).
   * Resolves once the new entries apply; rejects with a TypeError naming
   * the bad entry, keeping the entries it had. Calls in flight are not
   * affected either way.
   */
  reload(): Promise<void>;
  /** How many tokens and certificates apply now. */
  counts(): { tokens: number; certificates: number };
  /** Stops watching the file. */
  close(): void;
}

/** The principal of the entry `hash` equals, compared in constant time with every entry (no early exit). */
function findToken(file: AuthFile, hash: Buffer): Principal | undefined {
  let found: Principal | undefined;
  for (const entry of file.tokens) {
    if (timingSafeEqual(entry.hash, hash) && !found) found = entry.principal;
  }
  return found;
}

const mustSendCredentials = () =>
  new RegistryError(
    Code.UNAUTHENTICATED,
    "This registry needs credentials: send the header `Authorization: Bearer <token>`, or a client certificate it knows.",
    { reason: "CREDENTIALS_MISSING" },
  );

/** The principal a bearer token names, or UNAUTHENTICATED. */
function tokenPrincipal(file: AuthFile, values: readonly (string | Buffer)[]): Principal {
  if (values.length !== 1) {
    throw new RegistryError(Code.UNAUTHENTICATED, "Send one `Authorization` header, not several.", {
      reason: "CREDENTIALS_AMBIGUOUS",
    });
  }
  const match = /^Bearer +([^\s]+) *$/i.exec(String(values[0]));
  if (!match?.[1]) {
    throw new RegistryError(Code.UNAUTHENTICATED, "The `Authorization` header must read `Bearer <token>`.", {
      reason: "CREDENTIALS_MALFORMED",
    });
  }
  const principal = findToken(file, createHash("sha256").update(match[1], "utf8").digest());
  if (!principal) {
    throw new RegistryError(
      Code.UNAUTHENTICATED,
      "The bearer token is not valid here (unknown, or revoked); ask for a token of this registry.",
      { reason: "TOKEN_UNKNOWN" },
    );
  }
  return principal;
}

/**
 * The principal of a verified client certificate: its first name the file
 * lists. A certificate the file does not list (a gateway's own, say) counts
 * as no credentials: UNAUTHENTICATED, without the certificate's name.
 */
function certificatePrincipal(file: AuthFile, certificate: PeerCertificate): Principal {
  for (const name of certificateNames(certificate)) {
    const entry = file.certificates.find((c) => c.name === name);
    if (entry) return entry.principal;
  }
  throw new RegistryError(
    Code.UNAUTHENTICATED,
    "This registry does not know the client certificate: send the header `Authorization: Bearer <token>`, or a client certificate it lists.",
    { reason: "CERTIFICATE_UNKNOWN" },
  );
}

/** Who calls: a bearer token first, else the verified client certificate; UNAUTHENTICATED without either. */
function identify(file: AuthFile, call: CallInfo): Principal {
  const authorization = call.metadata.get("authorization");
  if (authorization.length > 0) return tokenPrincipal(file, authorization);
  const certificate = call.peerCertificate;
  if (certificate) return certificatePrincipal(file, certificate);
  throw mustSendCredentials();
}

/** The `authorize` hook over the file `current()` returns, checking {@link methodRoles}. */
function authorizer(current: () => AuthFile): Authorize {
  checkMethodRoles(methodRoles);
  const required = new Map<string, { name: string; role: Role }>(
    ModelService.methods.map((m) => [methodPath(m), { name: m.name, role: methodRoles[m.name] as Role }]),
  );
  return (call) => {
    const principal = identify(current(), call);
    const method = required.get(call.method);
    if (!method) {
      throw new RegistryError(
        Code.PERMISSION_DENIED,
        `${call.method} is not a method this registry authorizes.`,
      );
    }
    if (!hasRole(principal, method.role)) {
      const held = principal.roles.length > 0 ? `it has ${principal.roles.join(", ")}` : "it has no role";
      throw new RegistryError(
        Code.PERMISSION_DENIED,
        `${principal.subject} may not call ${method.name}: that needs the ${method.role} role, and ${held}.`,
        { reason: "ROLE_MISSING" },
      );
    }
    return principal;
  };
}

/**
 * Watches `file` for changes: its directory (an editor or a Kubernetes
 * volume replaces a file by renaming another over it, which a watch of the
 * file itself misses), and a stat poll as a safety net. `changed` is
 * called, debounced, on any sign of change.
 */
function watchAuthFile(file: string, pollIntervalMs: number, changed: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(changed, 50);
    timer.unref();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, soon);
    watcher.on("error", () => watcher?.close());
  } catch {
    // Left to the poll.
  }
  const poller: StatWatcher = watchFile(file, { persistent: false, interval: pollIntervalMs }, soon);
  return () => {
    clearTimeout(timer);
    watcher?.close();
    poller.removeAllListeners();
    unwatchFile(file, soon);
  };
}

/**
 * The built-in authorizer: bearer tokens and client certificates mapped to
 * principals and roles by a JSON auth file, each ModelService method
 * needing the role {@link methodRoles} gives it. Resolves once the file
 * has loaded (rejects with a TypeError naming the bad entry if it is not
 * valid). The file is reloaded when it changes and on `reload()`; a bad
 * version is logged and ignored, the last good one staying in force.
 *
 * ```ts
 * const auth = await createTokenAuth({ file: "/etc/modelreg/auth.json", logger });
 * const server = createRegistryServer({ storage, tls, authorize: auth.authorize });
 * process.on("SIGHUP", () => void auth.reload().catch(() => {}));
 * ```
 */
export async function createTokenAuth(options: TokenAuthOptions): Promise<TokenAuth> {
  checkOptions(options);
  const source = new AuthFileSource(resolve(options.file), options.logger);
  await source.reload();
  const stop =
    options.watch === false
      ? () => {}
      : watchAuthFile(source.path, options.pollIntervalMs ?? 2000, () => source.reloadOnChange());
  return {
    authorize: authorizer(() => source.current),
    reload: () => source.reload(),
    counts: () => source.counts(),
    close: () => {
      stop();
      source.close();
    },
  };
}

/** Throws a TypeError naming the first option of `createTokenAuth` that is not valid. */
function checkOptions(options: TokenAuthOptions): void {
  const { file, watch, pollIntervalMs } = (options ?? {}) as Partial<TokenAuthOptions>;
  if (typeof file !== "string" || file.trim() === "") {
    throw new TypeError("createTokenAuth: `file` must be the path of the auth file (a non-empty string)");
  }
  if (watch !== undefined && typeof watch !== "boolean") {
    throw new TypeError("createTokenAuth: `watch` must be true or false");
  }
  if (
    pollIntervalMs !== undefined &&
    (typeof pollIntervalMs !== "number" || !Number.isInteger(pollIntervalMs) || pollIntervalMs < 1)
  ) {
    throw new TypeError(
      "createTokenAuth: `pollIntervalMs` must be a whole number of milliseconds, at least 1",
    );
  }
}

/** The auth file's last good version, and reloads of it one at a time (an older read never wins). */
class AuthFileSource {
  #current: AuthFile | undefined;
  #text: string | undefined;
  /** The last version refused, and the last one logged: a refusal is logged once, not at each look. */
  #refused: string | undefined;
  #logged: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** The pending second read of a change seen on disk; cleared by close(). */
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly path: string,
    readonly logger: Logger | undefined,
  ) {}

  get current(): AuthFile {
    if (!this.#current) throw new Error("AuthFileSource: read before the first load");
    return this.#current;
  }

  counts() {
    return { tokens: this.current.tokens.length, certificates: this.current.certificates.length };
  }

  /** Reads the file; applies it if it is valid and new, else rejects with a TypeError naming the bad entry. */
  reload(): Promise<void> {
    const run = this.#queue.then(() => this.#load());
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Stops the pending retry of reloadOnChange(), and any later one. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /** Resolves after `ms`, or never once closed (nothing is then read again, nor logged). */
  #later(ms: number): Promise<void> {
    return new Promise((resolveLater) => {
      if (this.#closed) return;
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        resolveLater();
      }, ms);
      this.#retry.unref();
    });
  }

  /** A reload for a change seen on disk: a failure is read once more (a file caught half-written), then logged. */
  reloadOnChange(): void {
    if (this.#closed) return;
    this.reload()
      .catch(() => this.#later(250).then(() => this.reload()))
      .catch((error: unknown) => {
        if (this.#closed) return;
        if (this.#refused !== undefined && this.#refused === this.#logged) return;
        this.#logged = this.#refused;
        this.logger?.error(
          { file: this.path, err: { message: (error as Error).message } },
          "auth file not reloaded; the previous version stays in force",
        );
      });
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (cause) {
      this.#refused = undefined;
      throw new TypeError(
        `auth file ${this.path}: cannot read it (${(cause as NodeJS.ErrnoException).code})`,
      );
    }
    if (text === this.#text) {
      // Back to the version in force: a broken edit made again later is new, and logged again.
      this.#refused = undefined;
      this.#logged = undefined;
      return;
    }
    let parsed: AuthFile;
    try {
      parsed = parseAuthFile(text);
    } catch (error) {
      this.#refused = text;
      throw new TypeError(`auth file ${this.path}: ${(error as Error).message}`);
    }
    const first = this.#current === undefined;
    this.#current = parsed;
    this.#text = text;
    this.#refused = undefined;
    this.#logged = undefined;
    if (!first) this.logger?.info({ file: this.path, ...this.counts() }, "auth file reloaded");
  }
}
