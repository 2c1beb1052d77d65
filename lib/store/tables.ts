// Table clients for the app's own tables, from the AzureWebJobsStorage connection string.
import { TableClient } from '@azure/data-tables';
import type { KeyedAuditEntry } from '../domain/migration.js';

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

/** The HTTP status of a storage error, or undefined for anything else. */
export const statusCode = (e: unknown): number | undefined =>
  (e as { statusCode?: number } | null)?.statusCode;

/** An audit trail row: one per entry, under `audit~<key>` in the account's partition. */
export type AuditRow = {
  partitionKey: string;
  rowKey: string;
  At: string;
  Actor: string;
  Action: string;
  Outcome: string;
  Detail?: string;
};

export const AUDIT_PREFIX = 'audit~';

/** The audit rows of entries, in the account's partition (the migration's and the checklist's trails). */
export function auditRows(accountId: string, audit: readonly KeyedAuditEntry[]): AuditRow[] {
  return audit.map((a) => ({
    partitionKey: accountId,
    rowKey: `${AUDIT_PREFIX}${a.key}`,
    At: a.at,
    Actor: a.actor,
    Action: a.action,
    Outcome: a.outcome,
    ...(a.detail ? { Detail: a.detail } : {}),
  }));
}
