export * from './endpoint.js';
export * from './errors.js';
export * from './rtu.js';
export * from './tcp.js';
export * from './transport.js';
