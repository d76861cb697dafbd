// Public entry `mandate/mcp`: Mandate in front of an MCP server built with the official SDK (Streamable HTTP).
export {
  createMcpGuard,
  type McpAuthInfo,
  type McpGuard,
  type McpGuardOptions,
  type ToolArgumentSelection,
  type ToolContextSelector,
} from './mcp-guard.ts';
export type { McpHonoMiddleware, McpVariables } from './mcp-hono.ts';
export type { McpNodeMiddleware, McpNodeRequest } from './mcp-node.ts';
export { canonicalResource, type ProtectedResourceMetadata, toolScope } from './mcp-resource.ts';
