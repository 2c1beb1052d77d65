// The one reply helper of the HTTP triggers: JSON bodies, and errors mapped from AppError.
import type { HttpResponseInit } from '@azure/functions';
import { AppError, ServiceUnavailableError, UnauthorizedError } from './errors.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A JSON reply with the house content type. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': JSON_TYPE, ...headers } };
}

/**
 * Maps any thrown value to a reply. AppErrors keep their status and code; anything else is a 500
 * whose body says nothing about internals (the caller logs the error itself).
 */
export function toHttpResponse(err: unknown): HttpResponseInit {
  if (err instanceof AppError) {
    const headers: Record<string, string> =
      err instanceof UnauthorizedError
        ? { 'www-authenticate': 'Bearer' }
        : err instanceof ServiceUnavailableError && err.retryAfterSeconds !== undefined
          ? { 'retry-after': String(err.retryAfterSeconds) }
          : {};
    return json(err.status, err.toBody(), headers);
  }
  return json(500, {
    error: {
      code: 'internal-error',
      message: 'Something went wrong on our side; try again later.',
    },
  });
}
