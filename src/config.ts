// Transitional: the configuration lives in src/config/. Imports move there as the parallel branches merge.
export * from './config/index.js'
