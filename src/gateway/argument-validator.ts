import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';

/**
 * Checks tool arguments against the tool's input schema before the call leaves the gateway, so a
 * client gets one consistent `-32602` for bad arguments whatever the upstream would have done.
 * Compiled validators are cached by the tool's definition hash.
 */
export class ArgumentValidator {
  readonly #provider = new AjvJsonSchemaValidator();
  readonly #cache = new Map<string, JsonSchemaValidator<unknown>>();

  /** Returns undefined when valid, else a message describing what is wrong. */
  check(hash: string, schema: unknown, args: unknown): string | undefined {
    let validate = this.#cache.get(hash);
    if (!validate) {
      try {
        validate = this.#provider.getValidator<unknown>(schema as JsonSchemaType);
      } catch {
        // A schema the validator cannot compile is the upstream's problem: let the upstream judge.
        validate = (input: unknown) => ({ valid: true, data: input, errorMessage: undefined });
      }
      this.#cache.set(hash, validate);
    }
    const result = validate(args ?? {});
    return result.valid ? undefined : result.errorMessage;
  }
}
