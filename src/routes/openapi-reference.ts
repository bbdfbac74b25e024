import type { Json, JsonObject } from "./openapi-components";
import { operationsOf, type OpenApiDocument } from "./openapi-document";
import type { Operation } from "./openapi-endpoints";
import type { ReferenceField, ReferenceOperation, ReferencePageProps } from "../views/reference-page";

const isObject = (value: Json | undefined): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);
const asString = (value: Json | undefined): string => (typeof value === "string" ? value : "");
const objects = (value: Json | undefined): JsonObject[] => (Array.isArray(value) ? value.filter(isObject) : []);

/** Reads the document's `$ref`s (`#/components/<kind>/<name>`), following chains. */
function resolver(document: OpenApiDocument): (node: Json | undefined) => JsonObject {
  const components: JsonObject = { ...document.components };
  const resolve = (node: Json | undefined): JsonObject => {
    if (!isObject(node)) return {};
    const target = asString(node.$ref);
    if (!target) return node;
    const found = target
      .replace(/^#\/components\//, "")
      .split("/")
      .reduce<Json | undefined>((at, key) => (isObject(at) ? at[key] : undefined), components);
    return resolve(found);
  };
  return resolve;
}

/** A schema's type in a few words: its constant, its values, or its type and format. */
function typeOf(schema: JsonObject, resolve: (node: Json | undefined) => JsonObject): string {
  const own = resolve(schema);
  if (own.const !== undefined) return JSON.stringify(own.const);
  if (Array.isArray(own.enum)) return own.enum.map((value) => JSON.stringify(value)).join(" | ");
  if (own.oneOf) return objects(own.oneOf).map((option) => typeOf(option, resolve)).join(" | ");
  const type = asString(own.type) || "any";
  return own.format ? `${type} (${asString(own.format)})` : type;
}

/** The fields of an object schema, following `$ref` and `allOf`. */
function fieldsOf(node: Json | undefined, resolve: (node: Json | undefined) => JsonObject): ReferenceField[] {
  const schema = resolve(node);
  const required = Array.isArray(schema.required) ? schema.required : [];
  const own = Object.entries(isObject(schema.properties) ? schema.properties : {}).map(([name, value]): ReferenceField => {
    const property = resolve(value);
    return { name, type: typeOf(property, resolve), required: required.includes(name), description: asString(property.description) };
  });
  return [...objects(schema.allOf).flatMap((part) => fieldsOf(part, resolve)), ...own];
}

function parameterFields(operation: Operation, resolve: (node: Json | undefined) => JsonObject): ReferenceField[] {
  return (operation.parameters ?? []).map((node) => {
    const parameter = resolve(node);
    const schema = isObject(parameter.schema) ? parameter.schema : {};
    return {
      name: asString(parameter.name),
      in: asString(parameter.in),
      type: parameter.content ? "JSON" : typeOf(schema, resolve),
      required: parameter.required === true,
      description: asString(parameter.description),
    };
  });
}

/** The request body: one variant per `oneOf` alternative, named after its schema. */
function bodyOf(operation: Operation, resolve: (node: Json | undefined) => JsonObject): ReferenceOperation["body"] {
  const content = resolve(operation.requestBody).content;
  const [mediaType, media] = Object.entries(isObject(content) ? content : {})[0] ?? [];
  if (!mediaType || !isObject(media)) return undefined;
  const schema = resolve(media.schema);
  const alternatives = schema.oneOf ? objects(schema.oneOf) : [media.schema ?? {}];
  const variants = alternatives.map((alternative) => ({
    title: isObject(alternative) ? asString(alternative.$ref).split("/").pop() ?? "" : "",
    description: asString(resolve(alternative).description),
    fields: fieldsOf(alternative, resolve),
  }));
  return { mediaType, variants };
}

function responsesOf(operation: Operation, resolve: (node: Json | undefined) => JsonObject): ReferenceOperation["responses"] {
  return Object.entries(operation.responses).map(([status, node]) => {
    const res = resolve(node);
    return { status, description: asString(res.description), mediaTypes: Object.keys(isObject(res.content) ? res.content : {}) };
  });
}

const securityOf = (operation: Operation): string[] =>
  operation.security.length === 0
    ? ["none"]
    : operation.security.map((requirement) => {
        const [name, scopes = []] = Object.entries(requirement)[0] ?? ["none"];
        return scopes.length > 0 ? `${name} (${scopes.join(" ")})` : name;
      });

/** What the reference page shows of the document, `$ref`s resolved. */
export function referenceProps(document: OpenApiDocument, jsonUrl: string): ReferencePageProps {
  const resolve = resolver(document);
  return {
    title: document.info.title,
    version: document.info.version,
    description: document.info.description,
    serverUrl: document.servers[0]!.url,
    jsonUrl,
    schemes: Object.entries(document.components.securitySchemes).map(([name, scheme]) => ({ name, description: asString(scheme.description) })),
    operations: operationsOf(document).map(({ method, url, operation }) => ({
      id: operation.operationId,
      method: method.toUpperCase(),
      url,
      summary: operation.summary,
      description: operation.description ?? "",
      security: securityOf(operation),
      parameters: parameterFields(operation, resolve),
      body: bodyOf(operation, resolve),
      responses: responsesOf(operation, resolve),
    })),
  };
}
