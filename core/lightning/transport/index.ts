/** BOLT 8 transport: Noise_XK handshake, message cipher and TCP connection. */
export * from './noise.js';
export * from './connection.js';
