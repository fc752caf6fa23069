import { conformanceTest } from './conformance.js'

// The 2025 era (initialize, sessions, resumable streams): 30 scored scenarios.
conformanceTest('2025-11-25', 30, ['json-schema-2020-12'])
