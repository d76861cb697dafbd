// The CLI's admin commands: clients, grants, revoke, approvals, decisions, audit, policy, keys, tokens.
import type { Command } from 'commander';
import { addApprovalCommands } from './approval-commands.ts';
import { addAuditCommands } from './audit-commands.ts';
import { addClientCommands } from './client-commands.ts';
import type { CommandContext } from './command-context.ts';
import { addDecisionCommands } from './decision-commands.ts';
import { addGrantCommands } from './grant-commands.ts';
import { addKeyCommands } from './key-commands.ts';
import { addPolicyCommands } from './policy-commands.ts';
import { addRevokeCommand } from './revoke-command.ts';
import { addTokenCommands } from './token-commands.ts';

/** Adds every admin API command to `program`, in the order `--help` lists them. */
export function addAdminCommands(program: Command, ctx: CommandContext): void {
  addClientCommands(program, ctx);
  addGrantCommands(program, ctx);
  addRevokeCommand(program, ctx);
  addApprovalCommands(program, ctx);
  addDecisionCommands(program, ctx);
  addAuditCommands(program, ctx);
  addPolicyCommands(program, ctx);
  addKeyCommands(program, ctx);
  addTokenCommands(program, ctx);
}
