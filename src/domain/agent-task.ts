// The `agent_task` entry as plain types (no schema library), shared by the broker and the agent SDK.

/** One `agent_task` entry of `authorization_details` (RFC 9396 section 2). */
export interface AgentTask {
  type: 'agent_task';
  task_id: string;
  purpose?: string | undefined;
  actions: string[];
  locations: string[];
  datatypes?: string[] | undefined;
  steps?: string[] | undefined;
  /** Requested grant lifetime (seconds). */
  ttl?: number | undefined;
}

/** True when `action` on `location` is one of the entries' pairs. */
export function allowsPair(
  entries: readonly AgentTask[],
  action: string,
  location: string,
): boolean {
  return entries.some((e) => e.actions.includes(action) && e.locations.includes(location));
}
