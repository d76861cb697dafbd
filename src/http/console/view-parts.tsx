// Small pieces several console pages show: an intent entry, reasons as policy ids, a JSON value, a status badge.
import type { Child } from 'hono/jsx';
import type { AgentTask } from '../../domain/intent.ts';

/** A status as a labelled badge (the colour is a hint; the word carries it). */
export function Status({ value }: { value: string }) {
  return <span class={`badge badge-${value.replace(/[^a-z_]/g, '')}`}>{value}</span>;
}

/** Reason codes and policy ids (`@id` of the Cedar policies that decided), each linking to the policy text. */
export function Reasons({ reasons }: { reasons: readonly string[] }) {
  if (reasons.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="reasons">
      {reasons.map((r) => (
        <li>
          <code>{r}</code>
        </li>
      ))}
    </ul>
  );
}

/** One requested or granted task: purpose, actions and locations, and any other field as JSON. */
export function IntentEntry({ entry }: { entry: AgentTask }) {
  const {
    type: _t,
    task_id,
    purpose,
    actions,
    locations,
    ...rest
  } = entry as AgentTask & Record<string, unknown>;
  return (
    <dl class="pairs-of">
      <dt>Task</dt>
      <dd>
        <code>{String(task_id)}</code>
      </dd>
      <dt>Purpose</dt>
      <dd>{purpose ? String(purpose) : <span class="muted">not given</span>}</dd>
      <dt>Actions</dt>
      <dd>
        {actions.map((a) => (
          <code class="chip">{a}</code>
        ))}
      </dd>
      <dt>Locations</dt>
      <dd>
        <ul class="plain">
          {locations.map((l) => (
            <li>
              <code>{l}</code>
            </li>
          ))}
        </ul>
      </dd>
      {Object.keys(rest).length > 0 ? (
        <>
          <dt>Other fields</dt>
          <dd>
            <Json value={rest} />
          </dd>
        </>
      ) : null}
    </dl>
  );
}

/** A value as indented JSON in a scrollable block. */
export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

/** A form's <select> of fixed options, with the current value selected. */
export function Choice(props: {
  id: string;
  label: string;
  name: string;
  value: string | undefined;
  options: readonly string[];
  any?: string;
}) {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <select id={props.id} name={props.name}>
        {props.any !== undefined ? (
          <option value="" selected={!props.value}>
            {props.any}
          </option>
        ) : null}
        {props.options.map((o) => (
          <option value={o} selected={props.value === o}>
            {o}
          </option>
        ))}
      </select>
    </>
  );
}

/** A table that scrolls sideways on a narrow screen; `caption` is read out, not shown. */
export function DataTable(props: {
  caption?: string;
  headers: readonly string[];
  children: Child;
}) {
  return (
    <div class="table-wrap">
      <table>
        {props.caption ? <caption class="visually-hidden">{props.caption}</caption> : null}
        <thead>
          <tr>
            {props.headers.map((h) => (
              <th scope="col">{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
