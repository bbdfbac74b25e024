import { Layout } from "./layout";

/** A parameter or a body field, as the reference page lists it. */
export interface ReferenceField {
  name: string;
  /** Where a parameter goes (`query`, …); absent for body fields. */
  in?: string;
  type: string;
  required: boolean;
  description: string;
}

export interface ReferenceOperation {
  /** The anchor of the operation on the page. */
  id: string;
  method: string;
  url: string;
  summary: string;
  description: string;
  /** The accepted authentications, e.g. `clientSecretBasic`, `bearer (openid)`, `none`. */
  security: string[];
  parameters: ReferenceField[];
  /** The request body's media type and its alternatives (a `oneOf` lists one each). */
  body?: { mediaType: string; variants: { title: string; description: string; fields: ReferenceField[] }[] };
  responses: { status: string; description: string; mediaTypes: string[] }[];
}

export interface ReferencePageProps {
  title: string;
  version: string;
  description: string;
  serverUrl: string;
  jsonUrl: string;
  schemes: { name: string; description: string }[];
  operations: ReferenceOperation[];
}

const styles = `
main.reference{max-width:64rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.92rem}
th,td{text-align:left;vertical-align:top;border-top:1px solid #dde1e8;padding:.35rem .5rem}
section.op{border-top:2px solid #dde1e8;padding-top:.75rem;margin-top:1.5rem}
.method{display:inline-block;min-width:4.5rem;font-weight:700;color:#1a56db}
h2{font-size:1.15rem;margin:0 0 .5rem;word-break:break-all}
h3{font-size:1rem;margin:1rem 0 .25rem}
`;

/** Text with `code` spans (the document's descriptions are CommonMark); everything else stays text. */
function Prose(props: { text: string }) {
  return <>{props.text.split("`").map((part, i) => (i % 2 === 1 ? <code>{part}</code> : part))}</>;
}

function Fields(props: { fields: ReferenceField[]; withLocation?: boolean }) {
  return (
    <table>
      <tr>
        <th>name</th>
        {props.withLocation ? <th>in</th> : null}
        <th>type</th>
        <th>description</th>
      </tr>
      {props.fields.map((field) => (
        <tr>
          <td>
            <code>{field.name}</code>
            {field.required ? " (required)" : ""}
          </td>
          {props.withLocation ? <td>{field.in}</td> : null}
          <td>{field.type}</td>
          <td>
            <Prose text={field.description} />
          </td>
        </tr>
      ))}
    </table>
  );
}

function OperationSection(props: { op: ReferenceOperation }) {
  const { op } = props;
  return (
    <section class="op" id={op.id}>
      <h2>
        <span class="method">{op.method}</span> {op.url}
      </h2>
      <p>
        <strong>{op.summary}</strong>
      </p>
      {op.description ? (
        <p>
          <Prose text={op.description} />
        </p>
      ) : null}
      <p class="muted">Authentication: {op.security.join(" or ")}</p>
      {op.parameters.length > 0 ? (
        <>
          <h3>Parameters</h3>
          <Fields fields={op.parameters} withLocation />
        </>
      ) : null}
      {op.body ? (
        <>
          <h3>
            Request body (<code>{op.body.mediaType}</code>)
          </h3>
          {op.body.variants.map((variant) => (
            <>
              {variant.title ? <p>{variant.title}</p> : null}
              {variant.description ? (
                <p class="muted">
                  <Prose text={variant.description} />
                </p>
              ) : null}
              <Fields fields={variant.fields} />
            </>
          ))}
        </>
      ) : null}
      <h3>Responses</h3>
      <table>
        {op.responses.map((res) => (
          <tr>
            <td>{res.status}</td>
            <td>
              <Prose text={res.description} />
            </td>
            <td>{res.mediaTypes.join(", ")}</td>
          </tr>
        ))}
      </table>
    </section>
  );
}

/** The OpenAPI document as a page: no scripts, so it passes the pages' CSP as they do. */
export function ReferencePage(props: ReferencePageProps) {
  return (
    <Layout title={props.title} styles={styles} mainClass="reference">
      <h1>
        {props.title} <span class="muted">{props.version}</span>
      </h1>
      <p>
        Server: <code>{props.serverUrl}</code>. The same as OpenAPI 3.1: <a href={props.jsonUrl}>{props.jsonUrl}</a>
      </p>
      {props.description.split("\n\n").map((paragraph) => (
        <p>
          <Prose text={paragraph} />
        </p>
      ))}
      <h3>Authentication</h3>
      <ul>
        {props.schemes.map((scheme) => (
          <li>
            <code>{scheme.name}</code>: <Prose text={scheme.description} />
          </li>
        ))}
      </ul>
      <h3>Endpoints</h3>
      <ul>
        {props.operations.map((op) => (
          <li>
            <a href={`#${op.id}`}>
              {op.method} {op.url}
            </a>
            : {op.summary}
          </li>
        ))}
      </ul>
      {props.operations.map((op) => (
        <OperationSection op={op} />
      ))}
    </Layout>
  );
}
