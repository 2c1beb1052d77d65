// The app's one registration point: every trigger the host should know about (conventions §6).
import { app } from '@azure/functions';
import { health, openApi } from './http/system.js';

app.get('health', { route: 'health', authLevel: 'anonymous', handler: health });
app.get('openapi', { route: 'openapi.json', authLevel: 'anonymous', handler: openApi });
