// One small error hierarchy with stable codes; toHttpResponse maps it once (conventions §5).

export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: unknown };
}

/** An error a caller can act on: a stable kebab-case code, an HTTP status and a sentence. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

export interface Issue {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, issues: Issue[] = []) {
    super(400, 'invalid-request', message, { issues });
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, 'payload-too-large', `The request body is larger than ${limitBytes / 1024} KiB.`);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Sign in: send a valid bearer token in the Authorization header.') {
    super(401, 'unauthorized', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do this for this account.') {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends AppError {
  constructor(code: string, message: string) {
    super(404, code, message);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(409, code, message, details);
  }
}

/** A partner service is down or asked us to wait: try again later (`Retry-After`, when known). */
export class ServiceUnavailableError extends AppError {
  constructor(readonly retryAfterSeconds?: number) {
    super(
      503,
      'partner-unavailable',
      'A Microsoft service this needs is busy or unavailable right now; try again in a little while.',
    );
  }
}
