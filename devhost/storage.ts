// Table storage clients from an AzureWebJobsStorage-style connection string (Azurite or Azure).
import {
  TableClient,
  TableServiceClient,
  type TableServiceClientOptions,
} from '@azure/data-tables';

/** True when the connection string points at plain http (Azurite), which the SDK refuses by default. */
function isInsecure(connectionString: string): boolean {
  return (
    /UseDevelopmentStorage=true/i.test(connectionString) ||
    /DefaultEndpointsProtocol=http(;|$)/i.test(connectionString) ||
    /TableEndpoint=http:/i.test(connectionString)
  );
}

/**
 * Every storage request the host makes, counted at the HTTP pipeline (for benchmarks and diagnostics),
 * and how many of them never got an answer (a connection reset or refused; the SDK retries those).
 */
export const storageRequests = { count: 0, networkErrors: 0 };

function options(connectionString: string): TableServiceClientOptions {
  return {
    ...(isInsecure(connectionString) ? { allowInsecureConnection: true } : {}),
    additionalPolicies: [
      {
        policy: {
          name: 'devhostRequestCounter',
          sendRequest: (request, next) => {
            storageRequests.count++;
            return next(request).catch((e: unknown) => {
              if (storageStatus(e) === undefined) storageRequests.networkErrors++;
              throw e;
            });
          },
        },
        position: 'perRetry',
      },
    ],
  };
}

export function tableClient(connectionString: string, table: string): TableClient {
  return TableClient.fromConnectionString(connectionString, table, options(connectionString));
}

export function tableServiceClient(connectionString: string): TableServiceClient {
  return TableServiceClient.fromConnectionString(connectionString, options(connectionString));
}

/** The HTTP status of a storage error, or undefined for anything else. */
export function storageStatus(e: unknown): number | undefined {
  const status = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
