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

type OpenSsl = (...args: string[]) => Buffer;

/** One certificate to sign: the files' base name, the subject's CN and the extensions (openssl's extfile). */
interface Signing {
  file: string;
  cn: string;
  extension: string;
}

/** The self-signed test CA, as `ca.pem` and `ca.key`. */
function makeCa(openssl: OpenSsl): void {
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
}

/** A key and a certificate signed by the CA, as `<file>.key` and `<file>.pem` in `dir`. */
function signCertificate(openssl: OpenSsl, dir: string, { file, cn, extension }: Signing): void {
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    `/CN=${cn}`,
    "-keyout",
    `${file}.key`,
    "-out",
    `${file}.csr`,
  );
  writeFileSync(join(dir, `${file}.ext`), `${extension}\n`);
  openssl(
    "x509",
    "-req",
    "-in",
    `${file}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    `${file}.ext`,
    "-out",
    `${file}.pem`,
  );
}

/** The signings for the server, the client `modelreg test client`, and each extra client asked for. */
function signings(clients: Record<string, ClientCertificateRequest>): (Signing & { name?: string })[] {
  const extra = Object.entries(clients).map(([name, request], i) => ({
    file: `extra${i}`,
    name,
    cn: request.commonName,
    extension: `${request.subjectAltName ? `subjectAltName=${request.subjectAltName}\n` : ""}extendedKeyUsage=clientAuth`,
  }));
  return [
    {
      file: "server",
      cn: "modelreg test server",
      extension: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
    },
    { file: "client", cn: "modelreg test client", extension: "extendedKeyUsage=clientAuth" },
    ...extra,
  ];
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
  const openssl: OpenSsl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    makeCa(openssl);
    const all = signings(clients);
    for (const signing of all) signCertificate(openssl, dir, signing);
    const read = (file: string) => readFileSync(join(dir, file));
    return {
      ca: read("ca.pem"),
      serverCert: read("server.pem"),
      serverKey: read("server.key"),
      clientCert: read("client.pem"),
      clientKey: read("client.key"),
      clients: Object.fromEntries(
        all.flatMap(({ file, name }) =>
          name === undefined ? [] : [[name, { cert: read(`${file}.pem`), key: read(`${file}.key`) }]],
        ),
      ),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
