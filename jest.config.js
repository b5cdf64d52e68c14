/**
 * Tests live in test/, mirroring packages/, in two projects:
 *   - unit: imports sources (packages/*\/src) through ts-jest; type checks run in `tsc -b`.
 *   - e2e: runs the built CLI and worker processes (packages/*\/dist); its global setup rebuilds them first,
 *     so `npx jest test/distributed` after editing sources never tests an old build.
 * A test file is end-to-end when it lives under test/distributed, test/docker or test/multihost, or is named
 * `*.e2e.test.ts`. Skipped or todo tests fail the run (test/jest/no-skips-reporter.js): a test that cannot
 * run here must not pass silently.
 */
const E2E = [
  '<rootDir>/test/distributed/**/*.test.ts',
  '<rootDir>/test/docker/**/*.test.ts',
  '<rootDir>/test/multihost/**/*.test.ts',
  '<rootDir>/test/**/*.e2e.test.ts',
];

const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json' }],
  },
  moduleNameMapper: {
    '^@mat/([a-z-]+)$': '<rootDir>/packages/$1/src',
  },
  setupFiles: ['<rootDir>/test/setup.ts'],
};

module.exports = {
  testTimeout: 120000,
  maxWorkers: 2,
  reporters: [
    'default',
    '<rootDir>/test/jest/no-skips-reporter.js',
    '<rootDir>/test/jest/durations-reporter.js',
  ],
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: [
        '/node_modules/',
        '<rootDir>/test/(distributed|docker|multihost)/',
        '\\.e2e\\.test\\.ts$',
      ],
    },
    {
      ...shared,
      displayName: 'e2e',
      roots: ['<rootDir>/test'],
      testMatch: E2E,
      globalSetup: '<rootDir>/test/jest/build-dist.js',
    },
  ],
};
