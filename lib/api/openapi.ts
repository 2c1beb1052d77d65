// Builds the OpenAPI 3.1 document from the zod schemas the handlers validate with, so it cannot drift.
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { errorBodySchema, healthSchema } from './schemas.js';

type Document = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const jsonContent = <T>(schema: T) => ({ 'application/json': { schema } });

/** Registers every route of the portal contract. */
export function buildRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.register('Error', errorBodySchema);
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });
  registry.registerPath({
    method: 'get',
    path: '/api/health',
    summary: 'Liveness: answers when the app is up.',
    responses: { 200: { description: 'The app is up.', content: jsonContent(healthSchema) } },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document.',
    responses: { 200: { description: 'OpenAPI 3.1 of this API.' } },
  });
  return registry;
}

let cached: Document | undefined;

/** The document, generated once per process. */
export function openApiDocument(): Document {
  cached ??= new OpenApiGeneratorV31(buildRegistry().definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'CPP to Partner Center migration',
      version: '1.0.0',
      description:
        'The API the portal calls to move a publisher account from the Cloud Partner Portal to Partner Center.',
    },
    servers: [{ url: '/' }],
  });
  return cached;
}
