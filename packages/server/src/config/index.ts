export {
  ConfigError,
  configFileNames,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  redactDatabaseUrl,
} from './load.ts';
export { type BulwarkConfig, configSchema, logLevels } from './schema.ts';
