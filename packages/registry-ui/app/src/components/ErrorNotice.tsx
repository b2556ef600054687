/** An API error as the user sees it: the gateway's message, then every violation it listed. */
import { ApiError } from "../api/http";

/** What {@link ErrorNotice} shows. */
export interface ErrorNoticeProps {
  /** The error; an {@link ApiError} shows its violations too; `null`/`undefined` renders nothing. */
  readonly error: unknown;
  /** The element's id, e.g. `filter-error` or `promote-error`, for `aria-describedby`. */
  readonly id?: string;
  /** Leave out violations whose description the message already says (e.g. a filter's one error). */
  readonly omitRepeated?: boolean;
  /** Extra class names. */
  readonly class?: string;
  /** A sentence shown before the API's message, e.g. "Someone else moved this alias meanwhile…". */
  readonly lead?: string | undefined;
}

/** The descriptions of every field and precondition violation of `error`, in the API's order. */
export function violationDescriptions(error: unknown): string[] {
  if (!(error instanceof ApiError)) return [];
  return [
    ...error.fieldViolations.map((v) => v.description),
    ...error.preconditionViolations.map((v) => v.description),
  ].filter((d) => d !== "");
}

/** The message of any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** `role="alert"`: an optional lead, the message verbatim, then a list of every violation's description. */
export function ErrorNotice({ error, id, omitRepeated = false, class: className, lead }: ErrorNoticeProps) {
  if (error === null || error === undefined) return null;
  const message = messageOf(error);
  const items = violationDescriptions(error).filter((text) => !(omitRepeated && message.includes(text)));
  return (
    <div role="alert" id={id} class={className ? `error-notice ${className}` : "error-notice"}>
      {lead !== undefined && lead !== "" && <p class="error-message">{lead}</p>}
      <p class="error-message">{message}</p>
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
