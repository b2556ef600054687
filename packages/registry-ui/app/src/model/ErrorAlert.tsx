/** The model page's error alert: the shared ErrorNotice, or the same with a lead sentence before it. */
import { ErrorNotice, messageOf, violationDescriptions } from "../components/ErrorNotice";

/** Props of {@link ErrorAlert}. */
export interface ErrorAlertProps {
  readonly error: unknown;
  readonly id?: string;
  /** Shown before the API's message, e.g. "Someone else moved this alias meanwhile…". */
  readonly lead?: string | undefined;
}

/** An error as an alert: an optional lead, the API's message verbatim and every violation's description. */
export function ErrorAlert({ error, id, lead }: ErrorAlertProps) {
  if (lead === undefined || lead === "") return <ErrorNotice error={error} {...(id ? { id } : {})} />;
  const items = violationDescriptions(error);
  return (
    <div role="alert" id={id} class="error-notice">
      <p class="error-message">{lead}</p>
      <p class="error-message">{messageOf(error)}</p>
      {items.length > 0 && (
        <ul class="error-violations">
          {items.map((text, i) => (
            <li key={`${i}:${text}`}>{text}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
