/** Tests live in test/, mirroring packages/; TypeScript is transpiled by ts-jest (type checks run in `tsc -b`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json' }],
  },
  moduleNameMapper: {
    '^@mat/([a-z-]+)$': '<rootDir>/packages/$1/src',
  },
  setupFiles: ['<rootDir>/test/setup.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
};
