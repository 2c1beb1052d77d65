// The host's errors, in one place. Start-up errors are printed as one line by the CLI; HttpError and
// DurableError carry the status a host route answers with.

/** A startup problem the CLI reports in one line, with a non-zero exit. */
export class StartupError extends Error {}

/** A host route's refusal: the HTTP status and error code it answers with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A template that cannot be parsed; the message says what is wrong. */
export class RouteTemplateError extends Error {}

/** A schedule expression or setting the host would refuse at start-up. */
export class ScheduleError extends Error {}

/** A queue binding whose queue or connection cannot be resolved; the message says which and why. */
export class QueueBindingError extends Error {}

/** A function that outlived `functionTimeout`. */
export class FunctionTimeoutError extends Error {}

/** An error the HTTP API answers with its status (400 for bad arguments, as the extension does). */
export class DurableError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A replay scheduled something other than what the history holds for a sequence id. */
export class NonDeterminismError extends Error {
  override name = 'NonDeterminismError';
}
