import { wholeSuiteTest } from './conformance.js'

// Every scenario of the suite, the tasks extension's ten included.
wholeSuiteTest(65)
