import { type ConfigIssue, keyPath } from './issues.ts';

/**
 * `${VAR}` and `${VAR:-default}` interpolation over the string values of a parsed config tree.
 * It runs after YAML parsing, so a variable's value can never change the document's structure.
 * `$${` writes a literal `${`. As in the shell, `:-` uses the default when the variable is unset or
 * empty; `${VAR}` alone requires the variable to be set (it may be empty).
 */

const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces the placeholders in one string. Each variable that is unset and has no default is
 * reported through `missing` (the placeholder is left in place).
 */
export function interpolateString(
  value: string,
  env: NodeJS.ProcessEnv,
  missing: (variable: string) => void = () => {},
): string {
  return value.replace(PLACEHOLDER, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const found = env[name as string];
    if (fallback !== undefined) return found === undefined || found === '' ? fallback : found;
    if (found !== undefined) return found;
    missing(name as string);
    return match;
  });
}

/**
 * A copy of `tree` with every string interpolated (keys are left as they are), and one issue per
 * unset variable naming the key path where it is used.
 */
export function interpolateTree(
  tree: unknown,
  env: NodeJS.ProcessEnv,
  prefix = '',
): { value: unknown; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const walk = (node: unknown, path: string): unknown => {
    if (typeof node === 'string') {
      return interpolateString(node, env, (name) =>
        issues.push({
          path: path || '(root)',
          message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)`,
        }),
      );
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, keyPath(path, [i])));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node).map(([key, child]) => [key, walk(child, keyPath(path, [key]))]),
      );
    }
    return node;
  };
  return { value: walk(tree, prefix), issues };
}
