import type { SubmitTaskInput, ZiggieClient } from '../../sdk/src/index.ts';
import { inParallel } from './rest.ts';

/** How the benchmark submits a set of tasks: in batches where the SDK has them, else one by one. */
export interface Submitter {
  /** How it submits, for the report. */
  mode: string;
  submit(tasks: SubmitTaskInput[]): Promise<void>;
  /**
   * Requests the server refused with a 5xx and that were sent again (a refused batch is rolled back
   * as a whole): each distinct message and how often. Any at all is a server bug to report.
   */
  retried(): Record<string, number>;
}

type BatchClient = ZiggieClient & { submitMany?: (tasks: SubmitTaskInput[]) => Promise<unknown[]> };

const ATTEMPTS = 5;

/**
 * `client.submitMany` (`POST /api/tasks/batch`) with batches of `batch`, `inFlight` batches at
 * once, when the SDK has it; otherwise `client.submit` (`POST /api/tasks`) with `concurrency`
 * requests at once. A request answered with a 5xx is sent again (at most 5 times) and counted.
 */
export function submitterFor(
  client: ZiggieClient,
  options: { batch: number; inFlight: number; concurrency: number; forceSingle: boolean },
): Submitter {
  const retried: Record<string, number> = {};
  const withRetries = async <T>(send: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        const status = (error as { status?: number }).status ?? 0;
        if (status < 500 || attempt >= ATTEMPTS) throw error;
        const message = `${status} ${(error as Error).message}`;
        retried[message] = (retried[message] ?? 0) + 1;
      }
    }
  };
  const submitMany = (client as BatchClient).submitMany;
  if (typeof submitMany === 'function' && !options.forceSingle) {
    return {
      mode: `submitMany: POST /api/tasks/batch of ${options.batch}, ${options.inFlight} in flight`,
      async submit(tasks) {
        const batches: SubmitTaskInput[][] = [];
        for (let i = 0; i < tasks.length; i += options.batch) batches.push(tasks.slice(i, i + options.batch));
        await inParallel(batches, options.inFlight, async (batch) => {
          const answered = await withRetries(() => submitMany.call(client, batch));
          if (answered.length !== batch.length)
            throw new Error(`submitMany answered ${answered.length} tasks`);
        });
      },
      retried: () => retried,
    };
  }
  return {
    mode: `submit: POST /api/tasks, ${options.concurrency} concurrent`,
    async submit(tasks) {
      await inParallel(tasks, options.concurrency, (task) => withRetries(() => client.submit(task)));
    },
    retried: () => retried,
  };
}
