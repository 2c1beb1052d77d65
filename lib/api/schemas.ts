// The portal contract's shapes (api.md) as zod schemas: the same objects validate input and feed OpenAPI.
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Adds `.openapi()` to zod once, so every schema can carry its OpenAPI name and examples.
extendZodWithOpenApi(z);

export const errorBodySchema = z
  .object({
    error: z
      .object({
        code: z.string().meta({ example: 'invalid-request' }),
        message: z.string(),
        issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      })
      .loose(),
  })
  .meta({ id: 'Error', description: 'Every 4xx/5xx body.' });

export const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
