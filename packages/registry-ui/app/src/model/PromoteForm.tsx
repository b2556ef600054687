/** The Promote section: point an alias at a version, compare-and-set against what the page last saw. */
import { useState } from "preact/hooks";
import type { Model, ModelAlias } from "../api/types";
import { ErrorNotice } from "../components/ErrorNotice";
import { useAliasMove } from "./useAliasMove";

/** Props of {@link PromoteForm}. */
export interface PromoteFormProps {
  readonly model: Model;
  readonly versions: readonly Model[] | undefined;
  readonly aliases: readonly ModelAlias[] | undefined;
  /** After a move (or a conflict): reload aliases and the audit trail. */
  readonly onChanged: () => void;
}

/** The message shown before the API's when someone else moved the alias first. */
export const conflictLead = "Someone else moved this alias meanwhile; the form now shows where it points.";

/** The promote form. */
export function PromoteForm({ model, versions, aliases, onChanged }: PromoteFormProps) {
  const [alias, setAliasName] = useState("");
  const [version, setVersion] = useState(model.version);
  const { busy, done, error, conflict, move } = useAliasMove(onChanged);
  const trimmed = alias.trim();
  const seen = aliases?.find((a) => a.alias === trimmed);
  const versionList = versions ?? [model];
  const submit = async (event: Event) => {
    event.preventDefault();
    if (trimmed === "") return;
    await move({ name: model.name, alias: trimmed, version, expectedVersion: seen?.version ?? "" });
  };
  return (
    <section aria-labelledby="promote-heading" class="mp-section">
      <h2 id="promote-heading">Promote</h2>
      <form aria-label="Promote" class="mp-promote" onSubmit={submit}>
        <div class="mp-field">
          <label for="promote-alias">Alias</label>
          <input
            id="promote-alias"
            list="promote-aliases"
            required
            autocomplete="off"
            value={alias}
            onInput={(e) => setAliasName(e.currentTarget.value)}
            aria-describedby="promote-current"
          />
          <datalist id="promote-aliases">
            {(aliases ?? []).map((a) => (
              <option key={a.alias} value={a.alias} />
            ))}
          </datalist>
          <span id="promote-current" class="mp-muted">
            {trimmed === "" ? "" : seen ? `Currently: ${seen.version}` : "New alias"}
          </span>
        </div>
        <div class="mp-field">
          <label for="promote-version">Version</label>
          <select id="promote-version" value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
            {versionList.map((v) => (
              <option key={v.id} value={v.version}>
                {v.version}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy}>
          Promote
        </button>
      </form>
      <p role="status" class="mp-status">
        {done}
      </p>
      {error ? (
        <ErrorNotice error={error} id="promote-error" lead={conflict ? conflictLead : undefined} />
      ) : null}
    </section>
  );
}
