import { ZiggieError } from '../core/errors.ts';

/**
 * `${VAR}` and `${VAR:-default}` interpolation over the string values of a parsed config tree.
 * It runs after YAML parsing, so a variable's value can never change the document's structure.
 * `$${` writes a literal `${`.
 */

const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces the placeholders in one string; `path` names the key in errors. */
export function interpolateString(value: string, env: NodeJS.ProcessEnv, path: string): string {
  return value.replace(PLACEHOLDER, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const found = env[name as string];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    throw new ZiggieError(
      'CONFIG_INVALID',
      `${path || '(root)'}: environment variable ${name} is not set (write \${${name}:-default} to give a default)`,
      { path, variable: name },
    );
  });
}

/** A copy of `tree` with every string interpolated. Keys are left as they are. */
export function interpolateTree(tree: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof tree === 'string') return interpolateString(tree, env, path);
  if (Array.isArray(tree)) return tree.map((item, i) => interpolateTree(item, env, `${path}[${i}]`));
  if (tree !== null && typeof tree === 'object') {
    return Object.fromEntries(
      Object.entries(tree).map(([key, value]) => [
        key,
        interpolateTree(value, env, path ? `${path}.${key}` : key),
      ]),
    );
  }
  return tree;
}
