// The OpenAPI document of a gateway's published routes, in brief.

/** What GET /gateways/{name}/export/openapi answers. */
export interface OpenAPIExport {
  /** The published version documented, or "draft" when nothing was published. */
  version: string;
  document: OpenAPIDocument;
  /** What the rules do that OpenAPI cannot say; skipped rules are not in the document. */
  report: { rule: string; reason: string; skipped: boolean }[];
}

export interface OpenAPIDocument {
  openapi?: string;
  servers?: { url: string }[];
  paths?: Record<string, Record<string, unknown>>;
  components?: { securitySchemes?: Record<string, unknown> };
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** How many paths and operations, which servers and security schemes. */
export function openAPISummary(doc: OpenAPIDocument) {
  const paths = Object.values(doc.paths ?? {});
  return {
    paths: paths.length,
    operations: paths.reduce((n, item) => n + Object.keys(item ?? {}).filter((m) => METHODS.has(m)).length, 0),
    servers: (doc.servers ?? []).map((s) => s.url),
    securitySchemes: Object.keys(doc.components?.securitySchemes ?? {}),
  };
}
