import type { PeerCertificate } from "node:tls";

/** How Node spells a subject alternative name's kind, and how the auth file does. */
const sanKinds: Readonly<Record<string, string>> = {
  DNS: "DNS",
  URI: "URI",
  "IP Address": "IP",
  email: "email",
};

/**
 * The subject alternative names of `subjectaltname` (Node's spelling:
 * `DNS:a, URI:spiffe://b, IP Address:10.0.0.1`, a value holding a comma
 * quoted as a JSON string) in the auth file's spelling (`DNS:a`,
 * `URI:spiffe://b`, `IP:10.0.0.1`), kinds it cannot map left out.
 */
export function subjectAltNames(subjectaltname: string | undefined): string[] {
  const names: string[] = [];
  if (!subjectaltname) return names;
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (let match = entry.exec(subjectaltname); match; match = entry.exec(subjectaltname)) {
    const [, kind = "", raw = ""] = match;
    const spelled = sanKinds[kind];
    if (!spelled) continue;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    if (value !== "") names.push(`${spelled}:${value}`);
    if (entry.lastIndex >= subjectaltname.length) break;
  }
  return names;
}

/**
 * Every name of a client certificate that an auth file's `certificates`
 * entry may list: `CN=<common name>` of the subject (each one, if several),
 * then its subject alternative names, in the certificate's order.
 */
export function certificateNames(certificate: PeerCertificate): string[] {
  const cn: unknown = certificate.subject?.CN;
  const commonNames = (Array.isArray(cn) ? cn : [cn]).filter(
    (name): name is string => typeof name === "string" && name !== "",
  );
  return [...commonNames.map((name) => `CN=${name}`), ...subjectAltNames(certificate.subjectaltname)];
}
