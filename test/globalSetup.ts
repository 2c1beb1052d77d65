// Starts one in-memory Azurite for the whole run and hands its connection string to the tests.
import type { TestProject } from 'vitest/node';
import { startAzurite } from '../devhost/azurite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    storage: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const azurite = await startAzurite();
  project.provide('storage', azurite.connectionString);
  return () => azurite.stop();
}
