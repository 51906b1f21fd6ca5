export * from './client.js';
export * from './errors.js';
export * from './schemas.js';
export * from './sql.js';
export { btEnvFrom, buildChildEnv, FORWARDED_ENV_KEYS, type BtHeartbeat } from './run.js';
