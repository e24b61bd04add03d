export * from './wallet.js';
export * from './requests.js';
export * from './coinselection.js';
export * from './labels.js';
export * from './fees.js';
