/** The /proc model: one module per kernel file, each a pure parser (and writer where gproc renders). */
export * from './errors';
export * from './stat';
export * from './status';
export * from './system-stat';
export * from './uptime';
export * from './loadavg';
export * from './meminfo';
export * from './cpuinfo';
