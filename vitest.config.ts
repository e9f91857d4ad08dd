import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Workers run the dist/ build that global-setup has just made.
    env: { NEREID_COMPILED_WORKERS: '1' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
