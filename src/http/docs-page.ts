// GET /docs: the OpenAPI document rendered server-side into one self-contained HTML page (no scripts, no CDN).

type Json = Record<string, unknown>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** `code` spans for backticks; everything else escaped. */
function prose(text: unknown): string {
  return esc(text ?? '').replace(/`([^`]+)`/g, '<code>$1</code>');
}

function anchor(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function resolve(doc: Json, schema: Json | undefined): Json {
  const ref = schema?.$ref;
  if (typeof ref !== 'string') return schema ?? {};
  const name = ref.split('/').pop() as string;
  return ((doc.components as Json).schemas as Json)[name] as Json;
}

/** A short, readable type: `string`, `integer 1..1000`, `"a" | "b"`, `array of string`. */
function typeOf(doc: Json, raw: Json): string {
  const s = resolve(doc, raw);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if ('const' in s) return JSON.stringify(s.const);
  const union = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (union) return union.map((u) => typeOf(doc, u)).join(' or ');
  if (s.type === 'array') return `array of ${typeOf(doc, (s.items as Json) ?? {})}`;
  if (s.type === 'object' && !s.properties && s.additionalProperties !== undefined)
    return 'object (map)';
  return typeof s.type === 'string' ? s.type : Array.isArray(s.type) ? s.type.join(' | ') : 'any';
}

function constraintsOf(s: Json): string {
  const parts: string[] = [];
  if (s.minLength !== undefined || s.maxLength !== undefined)
    parts.push(`length ${s.minLength ?? 0}..${s.maxLength ?? '∞'}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.minimum !== undefined || s.maximum !== undefined)
    parts.push(`${s.minimum ?? '…'}..${s.maximum ?? '…'}`);
  if (s.minItems !== undefined || s.maxItems !== undefined)
    parts.push(`${s.minItems ?? 0}..${s.maxItems ?? '∞'} items`);
  if (typeof s.pattern === 'string') parts.push(`pattern ${s.pattern}`);
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`);
  return parts.join('; ');
}

interface Row {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly notes: string;
}

/** Flattens an object schema's fields into rows, nested objects as `a.b` (a few levels deep). */
function rowsOf(doc: Json, raw: Json, prefix = '', depth = 0): Row[] {
  const s = resolve(doc, raw);
  const props = s.properties as Record<string, Json> | undefined;
  if (!props) return [];
  const required = new Set((s.required as string[] | undefined) ?? []);
  const rows: Row[] = [];
  for (const [name, fieldRaw] of Object.entries(props)) {
    const field = resolve(doc, fieldRaw);
    const notes = [field.description, constraintsOf(field)].filter(Boolean).join(' — ');
    rows.push({
      name: `${prefix}${name}`,
      type: typeOf(doc, field),
      required: required.has(name),
      notes: String(notes),
    });
    // A JSON value carried in a string field (authorization_details in a form): the shape it decodes to.
    const decoded = field['x-decoded-schema'] as Json | undefined;
    if (decoded && depth < 3) {
      const d = resolve(doc, decoded);
      const inner = d.type === 'array' ? resolve(doc, (d.items as Json) ?? {}) : d;
      const at = `${prefix}${name} (JSON)${d.type === 'array' ? '[]' : ''}.`;
      rows.push(...rowsOf(doc, inner, at, depth + 1));
    }
    if (depth < 3) {
      const inner = field.type === 'array' ? resolve(doc, (field.items as Json) ?? {}) : field;
      rows.push(
        ...rowsOf(doc, inner, `${prefix}${name}${field.type === 'array' ? '[]' : ''}.`, depth + 1),
      );
    }
  }
  return rows;
}

function table(rows: Row[]): string {
  if (!rows.length) return '';
  const body = rows
    .map(
      (r) =>
        `<tr><td><code>${esc(r.name)}</code></td><td>${esc(r.type)}</td><td>${r.required ? 'yes' : ''}</td><td>${prose(r.notes)}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>field</th><th>type</th><th>required</th><th>notes</th></tr></thead><tbody>${body}</tbody></table>`;
}

const AUTH_LABELS: Record<string, string> = {
  clientBasic: 'client (HTTP Basic or client_secret_post)',
  adminBearer: 'admin bearer token',
};

function operationHtml(doc: Json, method: string, path: string, op: Json): string {
  const security = (op.security as Array<Record<string, unknown>>) ?? [];
  const auth = security.length
    ? security
        .map((s) =>
          Object.keys(s)
            .map((k) => AUTH_LABELS[k] ?? k)
            .join(' + '),
        )
        .join(' or ')
    : 'none';
  const out: string[] = [
    `<section class="op" id="${anchor(`${method} ${path}`)}">`,
    `<h3><span class="m m-${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code> — ${esc(op.summary)}</h3>`,
    `<p>${prose(op.description)}</p>`,
    `<p class="auth">Authentication: ${esc(auth)}</p>`,
  ];
  const params = (op.parameters as Json[] | undefined) ?? [];
  if (params.length) {
    out.push('<h4>Parameters</h4>');
    out.push(
      table(
        params.map((p) => {
          const schema = (p.schema as Json) ?? {};
          return {
            name: `${p.in}: ${p.name}`,
            type: typeOf(doc, schema),
            required: p.required === true,
            notes: [p.description, constraintsOf(schema)].filter(Boolean).join(' — '),
          };
        }),
      ),
    );
  }
  const body = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined;
  for (const [type, media] of Object.entries(body ?? {})) {
    const schema = media.schema as Json;
    const name = typeof schema.$ref === 'string' ? schema.$ref.split('/').pop() : '';
    out.push(`<h4>Request body <code>${esc(type)}</code> (${esc(name)})</h4>`);
    out.push(table(rowsOf(doc, schema)));
    if (media.example !== undefined) out.push('<h4>Example request</h4>');
    out.push(exampleHtml(media.example));
  }
  out.push('<h4>Responses</h4><dl>');
  for (const [status, resp] of Object.entries((op.responses as Record<string, Json>) ?? {}).sort(
    ([a], [b]) => a.localeCompare(b),
  )) {
    const content = resp.content as Record<string, Json> | undefined;
    const [type, media] = Object.entries(content ?? {})[0] ?? [];
    const schema = media?.schema as Json | undefined;
    const name = typeof schema?.$ref === 'string' ? schema.$ref.split('/').pop() : undefined;
    out.push(
      `<dt><b>${esc(status)}</b> ${prose(resp.description)}${type ? ` — <code>${esc(type)}</code>` : ''}${name ? ` <a href="#schema-${anchor(name)}">${esc(name)}</a>` : ''}</dt>`,
    );
  }
  out.push('</dl>');
  const success = Object.entries((op.responses as Record<string, Json>) ?? {}).find(([status]) =>
    status.startsWith('2'),
  );
  const media = Object.values((success?.[1].content as Record<string, Json> | undefined) ?? {})[0];
  if (media?.example !== undefined) out.push(`<h4>Example answer (${esc(success?.[0])})</h4>`);
  out.push(exampleHtml(media?.example));
  out.push('</section>');
  return out.join('\n');
}

/** An example value, pretty-printed (a string as it is). */
function exampleHtml(example: unknown): string {
  if (example === undefined) return '';
  const text = typeof example === 'string' ? example : JSON.stringify(example, null, 2);
  return `<pre><code>${esc(text)}</code></pre>`;
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
code{font:13px ui-monospace,monospace;background:#f4f4f4;padding:0 .2em}h2{border-bottom:2px solid #ddd;margin-top:2em}
.op{border:1px solid #ddd;border-radius:6px;padding:.2em 1em 1em;margin:1em 0}.m{display:inline-block;min-width:4em;text-align:center;border-radius:4px;color:#fff;font-size:13px;padding:.1em .4em}
.m-get{background:#2b7bb9}.m-post{background:#2f9e44}.m-put{background:#d9480f}.m-patch{background:#9c36b5}.m-delete{background:#c92a2a}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f8f8f8}
.auth{color:#555}nav ul{columns:2}`;

/** Renders the OpenAPI document as a readable HTML reference: operations by tag, field tables, response shapes. */
export function renderDocsPage(doc: Json): string {
  const info = doc.info as Json;
  const paths = doc.paths as Record<string, Json>;
  const byTag = new Map<string, string[]>();
  const index: string[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const tag = ((op.tags as string[] | undefined) ?? ['Other'])[0] as string;
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)?.push(operationHtml(doc, method, path, op));
      index.push(
        `<li><a href="#${anchor(`${method} ${path}`)}">${method.toUpperCase()} ${esc(path)}</a></li>`,
      );
    }
  }
  const sections = [...byTag].map(
    ([tag, ops]) => `<h2 id="${anchor(tag)}">${esc(tag)}</h2>\n${ops.join('\n')}`,
  );
  const schemas = (doc.components as Json).schemas as Record<string, Json>;
  const shapes = Object.entries(schemas).map(
    ([name, schema]) =>
      `<section class="op" id="schema-${anchor(name)}"><h3>${esc(name)}</h3>${schema.description ? `<p>${prose(schema.description)}</p>` : ''}${table(rowsOf(doc, schema)) || `<p>${esc(typeOf(doc, schema))}</p>`}</section>`,
  );
  const server = ((doc.servers as Json[] | undefined)?.[0]?.url as string | undefined) ?? '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} API reference</title><style>${STYLE}</style></head>
<body><h1>${esc(info.title)} API reference</h1>
<p>${esc(info.summary ?? '')}. ${prose(info.description)}</p>
<p>Server: <code>${esc(server)}</code> · machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI ${esc(doc.openapi)})</p>
<nav><ul>${index.join('')}</ul></nav>
${sections.join('\n')}
<h2 id="schemas">Shapes</h2>
${shapes.join('\n')}
</body></html>
`;
}
