import type { Task } from '../core/task.ts';
import type { StoreTx, UsageTotals } from '../store/types.ts';
import type { AssignRules } from './assign-task.ts';

/** A spending limit (config `orchestrator.budgets.*.<name>`): reached once the tasks' totals get to it. */
export interface Budget {
  maxCost?: number;
  maxTokens?: number;
}

/** The budgets of config `orchestrator.budgets`: per agent id and per workspace name. */
export interface Budgets {
  agents: Readonly<Record<string, Budget>>;
  workspaces: Readonly<Record<string, Budget>>;
}

/** The currency budgets and costs are written in. */
const CURRENCY = 'USD';

/**
 * The `AssignRules.blocked` hook for `budgets`: an agent whose tasks, or a task whose workspace's
 * tasks, used up a budget (cost, or input + output tokens, at or over the limit) takes no new task.
 * The answer names the budget (`agent dev-a used its budget: cost 10.02 of 10.00 USD`); assignment
 * keeps it as the task's `why`, or refuses a named agent with BUDGET_EXCEEDED. The totals are read
 * in the assignment's transaction, over every task the agent (or workspace) ever had. Undefined
 * when no budget is set, so that assignment reads nothing more.
 */
export function budgetCheck(budgets: Budgets): AssignRules['blocked'] {
  const hasAgents = Object.values(budgets.agents).some(isLimit);
  const hasWorkspaces = Object.values(budgets.workspaces).some(isLimit);
  if (!hasAgents && !hasWorkspaces) return undefined;
  return async (tx: StoreTx, agentId: string, task: Task) => {
    const agentBudget = budgets.agents[agentId];
    if (agentBudget && isLimit(agentBudget)) {
      const over = overBudget(agentBudget, await tx.tasks.spent({ assignee: agentId }));
      if (over) return `agent ${agentId} used its budget: ${over}`;
    }
    const workspaceBudget = task.workspace === null ? undefined : budgets.workspaces[task.workspace];
    if (task.workspace !== null && workspaceBudget && isLimit(workspaceBudget)) {
      const over = overBudget(workspaceBudget, await tx.tasks.spent({ workspace: task.workspace }));
      if (over) return `workspace ${task.workspace} used its budget: ${over}`;
    }
    return undefined;
  };
}

function isLimit(budget: Budget): boolean {
  return budget.maxCost !== undefined || budget.maxTokens !== undefined;
}

/** Which limit `spent` reached (`cost 10.02 of 10.00 USD`, `tokens 1200 of 1000`), or undefined. */
export function overBudget(budget: Budget, spent: UsageTotals): string | undefined {
  if (budget.maxCost !== undefined && spent.cost >= budget.maxCost) {
    return `cost ${spent.cost.toFixed(2)} of ${budget.maxCost.toFixed(2)} ${CURRENCY}`;
  }
  if (budget.maxTokens !== undefined && spent.tokens >= budget.maxTokens) {
    return `tokens ${spent.tokens} of ${budget.maxTokens}`;
  }
  return undefined;
}
