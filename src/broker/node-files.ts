import { join } from 'node:path';

/** Where a throwaway node keeps everything, all inside its baseDir. */
export interface NodeLayout {
  readonly baseDir: string;
  readonly configFile: string;
  /** An empty folder given as RABBITMQ_CONFIG_FILES, so /etc/rabbitmq/conf.d is never read. */
  readonly confDir: string;
  readonly enabledPluginsFile: string;
  /** An empty rabbitmq-env.conf, so /etc/rabbitmq/rabbitmq-env.conf is never sourced. */
  readonly envConfFile: string;
  readonly mnesiaBase: string;
  readonly logBase: string;
  readonly pidFile: string;
  /** stdout and stderr of rabbitmq-server (early boot messages, configuration errors). */
  readonly startupLog: string;
  readonly startupErr: string;
}

export function nodeLayout(baseDir: string): NodeLayout {
  return {
    baseDir,
    configFile: join(baseDir, 'rabbitmq.conf'),
    confDir: join(baseDir, 'conf.d'),
    enabledPluginsFile: join(baseDir, 'enabled_plugins'),
    envConfFile: join(baseDir, 'rabbitmq-env.conf'),
    mnesiaBase: join(baseDir, 'mnesia'),
    logBase: join(baseDir, 'log'),
    pidFile: join(baseDir, 'rabbitmq.pid'),
    startupLog: join(baseDir, 'startup_log'),
    startupErr: join(baseDir, 'startup_err'),
  };
}

const CONFIG_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.$-]*$/;

/** The rabbitmq.conf (new-style, sysctl-like) of a throwaway node. Throws TypeError on unusable entries. */
export function renderRabbitmqConf(options: {
  managementPort: number | null;
  extraConfig?: Readonly<Record<string, string>> | undefined;
}): string {
  const lines = [
    '# Written by qtool for a throwaway node; removed with it.',
    // Logs go to RABBITMQ_LOG_BASE only; rabbitmq-server's stdout keeps just the early boot messages.
    'log.console = false',
  ];
  if (options.managementPort !== null) {
    lines.push('management.tcp.ip = 127.0.0.1', `management.tcp.port = ${options.managementPort}`);
  }
  for (const [key, value] of Object.entries(options.extraConfig ?? {})) {
    if (!CONFIG_KEY.test(key))
      throw new TypeError(`extraConfig: ${JSON.stringify(key)} is not a rabbitmq.conf key`);
    if (/[\r\n]/.test(value)) {
      throw new TypeError(`extraConfig: the value of ${key} must be a single line`);
    }
    lines.push(`${key} = ${value}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The enabled_plugins file: an Erlang list of plugin names. */
export function renderEnabledPlugins(management: boolean): string {
  return management ? '[rabbitmq_management].\n' : '[].\n';
}

/**
 * The variables that make rabbitmq-server run a separate node out of `layout`, never reading or writing
 * anything under /etc/rabbitmq or /var/lib/rabbitmq (apart from the Erlang cookie in the home folder).
 */
export function nodeEnvironment(options: {
  layout: NodeLayout;
  nodeName: string;
  amqpPort: number;
  distPort: number;
}): Record<string, string> {
  const { layout } = options;
  return {
    RABBITMQ_NODENAME: options.nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(options.amqpPort),
    RABBITMQ_DIST_PORT: String(options.distPort),
    RABBITMQ_MNESIA_BASE: layout.mnesiaBase,
    RABBITMQ_LOG_BASE: layout.logBase,
    RABBITMQ_PID_FILE: layout.pidFile,
    RABBITMQ_CONFIG_FILE: layout.configFile,
    RABBITMQ_CONFIG_FILES: layout.confDir,
    RABBITMQ_ADVANCED_CONFIG_FILE: join(layout.baseDir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: layout.enabledPluginsFile,
    RABBITMQ_CONF_ENV_FILE: layout.envConfFile,
    RABBITMQ_MOTD_FILE: join(layout.baseDir, 'motd'),
    // The Erlang distribution listener otherwise binds every interface.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    // A node that dies during boot writes its crash dump here instead of into the current folder.
    ERL_CRASH_DUMP: join(layout.baseDir, 'erl_crash.dump'),
  };
}
