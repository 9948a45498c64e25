import type { FastifyError, FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import { isZiggieError, ZiggieError } from '../core/errors.ts';

/**
 * REST errors as `{error: {code, message, details?}}` with stable codes; never a stack trace.
 * Fastify's own errors (bad JSON, body too large, wrong content type) are mapped to our codes.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const mapped = toZiggieError(error);
    if (mapped.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    return reply.code(mapped.status).send(mapped.toJSON());
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(new ZiggieError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`).toJSON()),
  );
}

export function toZiggieError(error: unknown): ZiggieError {
  if (isZiggieError(error)) return error;
  if (error instanceof ZodError) {
    const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const message = issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ');
    return new ZiggieError('VALIDATION_FAILED', message, { issues });
  }
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new ZiggieError(
      'BODY_TOO_LARGE',
      'request body is over the configured limit (server.maxBodyBytes)',
    );
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
    return new ZiggieError('VALIDATION_FAILED', fastifyError.message ?? 'bad request');
  }
  return new ZiggieError('INTERNAL', 'internal error; see the server log');
}
