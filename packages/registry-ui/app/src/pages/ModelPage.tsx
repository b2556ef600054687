/** One model: fields, versions, aliases, audit trail, promotion. CONTRACT: helper B implements. */
export interface ModelPageProps {
  readonly id: string;
}

/** The model page. */
export function ModelPage(_props: ModelPageProps) {
  return <p>model</p>;
}
