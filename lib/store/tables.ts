// Table clients for the app's own tables, from the AzureWebJobsStorage connection string.
import { TableClient } from '@azure/data-tables';

/** Azurite (and any plain-http endpoint) needs the SDK's explicit consent to insecure connections. */
export function tableClientFor(connectionString: string, table: string): TableClient {
  const insecure =
    /UseDevelopmentStorage=true|DefaultEndpointsProtocol=http(;|$)|TableEndpoint=http:/i.test(
      connectionString,
    );
  return TableClient.fromConnectionString(
    connectionString,
    table,
    insecure ? { allowInsecureConnection: true } : {},
  );
}
