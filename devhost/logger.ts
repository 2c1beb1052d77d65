// Host logging: Core Tools-style lines, filtered per category by host.json `logging.logLevel`.
import type { RpcLogLevel } from './rpcTypes.js';

const LEVELS = ['trace', 'debug', 'information', 'warning', 'error', 'critical', 'none'] as const;
export type LogLevel = (typeof LEVELS)[number];

/** Maps host.json level names (`Information`, `Warning`, …) and RPC names onto one scale. */
export function parseLogLevel(name: string): LogLevel | undefined {
  const lower = name.toLowerCase();
  return (LEVELS as readonly string[]).includes(lower) ? (lower as LogLevel) : undefined;
}

const rank = (level: LogLevel): number => LEVELS.indexOf(level);

export interface LogSink {
  write(line: string, level: LogLevel): void;
}

/**
 * Writes lines to stdout/stderr, gathered per event-loop turn: one write per turn instead of one per
 * line keeps logging off the hot path of busy hosts.
 */
function bufferedStream(stream: NodeJS.WriteStream): (line: string) => void {
  let pending: string[] = [];
  const flush = (): void => {
    const text = pending.join('');
    pending = [];
    stream.write(text);
  };
  process.once('exit', () => {
    if (pending.length) flush();
  });
  return (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(line + '\n');
  };
}

const toStdout = bufferedStream(process.stdout);
const toStderr = bufferedStream(process.stderr);

export const consoleSink: LogSink = {
  write(line, level) {
    (rank(level) >= rank('warning') ? toStderr : toStdout)(line);
  },
};

/**
 * Category-filtered logger. Categories follow the host's: `Host.Startup`, `Host.General`,
 * `Function.<name>` for the host's invocation lines and `Function.<name>.User` for the app's own logs.
 * The most specific configured prefix wins, then `default` (Information when unset).
 */
export class HostLogger {
  readonly #levels: [string, LogLevel][];
  readonly #default: LogLevel;
  readonly #cache = new Map<string, LogLevel>();

  constructor(
    logLevel: Record<string, string> = {},
    private readonly sink: LogSink = consoleSink,
  ) {
    const entries: [string, LogLevel][] = [];
    let def: LogLevel = 'information';
    for (const [category, name] of Object.entries(logLevel)) {
      const level = parseLogLevel(name) ?? 'information';
      if (category.toLowerCase() === 'default') def = level;
      else entries.push([category.toLowerCase(), level]);
    }
    // Longest prefix first so that `Function.hello` beats `Function`.
    this.#levels = entries.sort((a, b) => b[0].length - a[0].length);
    this.#default = def;
  }

  /** The minimum level written for a category. */
  levelFor(category: string): LogLevel {
    const cached = this.#cache.get(category);
    if (cached) return cached;
    const lower = category.toLowerCase();
    const hit = this.#levels.find(([prefix]) => lower === prefix || lower.startsWith(prefix + '.'));
    const level = hit ? hit[1] : this.#default;
    this.#cache.set(category, level);
    return level;
  }

  enabled(category: string, level: LogLevel): boolean {
    const min = this.levelFor(category);
    return min !== 'none' && level !== 'none' && rank(level) >= rank(min);
  }

  log(category: string, level: LogLevel | RpcLogLevel, message: string): void {
    if (!this.enabled(category, level)) return;
    this.sink.write(`[${new Date().toISOString()}] ${message}`, level);
  }

  info(category: string, message: string): void {
    this.log(category, 'information', message);
  }
  warn(category: string, message: string): void {
    this.log(category, 'warning', message);
  }
  error(category: string, message: string): void {
    this.log(category, 'error', message);
  }
}
