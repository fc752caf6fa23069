import { conformanceTest } from './conformance.js'

// The stateless revision on the same endpoint: 37 scored scenarios.
conformanceTest('2026-07-28', 37, ['json-schema-2020-12', 'http-custom-header-server-validation'])
