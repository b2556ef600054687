/** The "Comparison" table: chosen versions side by side, one row per field, differing rows marked. */
import type { Model } from "../api/types";
import { formatTime } from "../components/Time";

interface Row {
  readonly label: string;
  readonly values: readonly string[];
}

function rowsOf(models: readonly Model[]): Row[] {
  const row = (label: string, pick: (m: Model) => string): Row => ({ label, values: models.map(pick) });
  const keys = [...new Set(models.flatMap((m) => Object.keys(m.metadata)))].sort();
  return [
    row("Version", (m) => m.version),
    row("Framework", (m) => m.framework),
    row("Description", (m) => m.description),
    row("Tags", (m) => m.tags.join(", ")),
    ...keys.map((key) => row(`Metadata ${key}`, (m) => m.metadata[key] ?? "")),
    row("Artifact URI", (m) => m.artifactUri),
    row("Artifact digest", (m) => m.artifactDigest),
    row("Run URI", (m) => m.lineage?.runUri ?? ""),
    row("Code revision", (m) => m.lineage?.codeRevision ?? ""),
    row("Datasets", (m) => (m.lineage?.datasetUris ?? []).join(", ")),
    row("Parent models", (m) => (m.lineage?.parentModelIds ?? []).join(", ")),
    row("Created", (m) => formatTime(m.createTime)),
    row("Updated", (m) => formatTime(m.updateTime)),
  ];
}

/** Props of {@link Comparison}. */
export interface ComparisonProps {
  /** Two or more versions, in the order to show them. */
  readonly models: readonly Model[];
}

/** The chosen versions, one column each. */
export function Comparison({ models }: ComparisonProps) {
  const rows = rowsOf(models);
  return (
    <div class="mp-scroll">
      <table class="mp-table mp-compare">
        <caption>Comparison</caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            {models.map((m) => (
              <th scope="col" key={m.id}>
                {m.version}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const differs = new Set(r.values).size > 1;
            return (
              <tr key={r.label} data-differs={differs ? "true" : undefined}>
                <th scope="row">
                  {r.label}
                  {differs ? <span class="mp-visually-hidden"> (differs)</span> : null}
                </th>
                {r.values.map((v, i) => (
                  <td key={i}>{v === "" ? <span class="mp-muted">—</span> : v}</td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
