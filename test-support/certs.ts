import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM material for a throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate. */
export interface TestCertificates {
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** The extra client certificates asked for, by the name they were asked under. */
  clients: Record<string, { cert: Buffer; key: Buffer }>;
}

/** An extra client certificate: its subject's common name, and subject alternative names if any. */
export interface ClientCertificateRequest {
  /** The subject's CN. */
  commonName: string;
  /** openssl's spelling, for example `URI:spiffe://example.org/trainer,DNS:trainer`. */
  subjectAltName?: string;
}

/**
 * Makes fresh certificates with the openssl CLI (in a temporary folder,
 * removed afterwards): the CA, the server's, the client `modelreg test
 * client`, and one more client certificate per entry of `clients`.
 */
export function makeTestCertificates(
  clients: Record<string, ClientCertificateRequest> = {},
): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-certs-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=modelreg test CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    );
    const extra = Object.entries(clients).map(([name, request], i) => ({
      file: `extra${i}`,
      name,
      cn: request.commonName,
      extension: `${request.subjectAltName ? `subjectAltName=${request.subjectAltName}\n` : ""}extendedKeyUsage=clientAuth`,
    }));
    for (const { file: name, cn, extension } of [
      {
        file: "server",
        cn: "modelreg test server",
        extension: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
      },
      { file: "client", cn: "modelreg test client", extension: "extendedKeyUsage=clientAuth" },
      ...extra,
    ]) {
      openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        `/CN=${cn}`,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
      );
      writeFileSync(join(dir, `${name}.ext`), `${extension}\n`);
      openssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.pem`,
      );
    }
    const read = (file: string) => readFileSync(join(dir, file));
    return {
      ca: read("ca.pem"),
      serverCert: read("server.pem"),
      serverKey: read("server.key"),
      clientCert: read("client.pem"),
      clientKey: read("client.key"),
      clients: Object.fromEntries(
        extra.map(({ file, name }) => [name, { cert: read(`${file}.pem`), key: read(`${file}.key`) }]),
      ),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
