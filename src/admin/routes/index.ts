/** The /v1 route modules the listener serves: one line per module. */
import type { AdminRoutes } from '../app.js';
import { loginRoutes } from './logins.js';
import { sessionRoutes } from './sessions.js';

export const ADMIN_ROUTES: readonly AdminRoutes[] = [sessionRoutes, loginRoutes];
