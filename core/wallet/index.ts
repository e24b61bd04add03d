export * from './wallet.js';
export * from './requests.js';
