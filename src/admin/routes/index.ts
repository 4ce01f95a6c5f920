/** The /v1 route modules the listener serves: one line per module. */
import type { AdminRoutes } from '../app.js';
import { aclRoutes } from './acls.js';
import { backstoreRoutes } from './backstores.js';
import { clusterRoutes } from './cluster.js';
import { configRoutes } from './config.js';
import { loginRoutes } from './logins.js';
import { sessionRoutes } from './sessions.js';
import { settingsRoutes } from './settings.js';
import { targetRoutes } from './targets.js';

export const ADMIN_ROUTES: readonly AdminRoutes[] = [
  sessionRoutes,
  loginRoutes,
  configRoutes,
  targetRoutes,
  aclRoutes,
  backstoreRoutes,
  settingsRoutes,
  clusterRoutes,
];
