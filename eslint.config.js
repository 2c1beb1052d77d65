// Lint: typescript-eslint with type information, plus the "two worlds" rule for orchestrators.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The deployable app (functions/, orchestrations/, lib/) and the dev tools (devhost/, sandbox/, and the
// scripts, benches and tests that compose them) never import each other: dist/ and the production
// dependencies hold only the app.
const APP_FOLDERS = ['functions/**/*.ts', 'orchestrations/**/*.ts', 'lib/**/*.ts'];
const NO_DEV_TOOLS = {
  regex: '^((\\.\\./)+(devhost|sandbox|scripts|bench|test)(/|$)|devhost(/|$))',
  message: 'The app never imports the dev tools (devhost/, sandbox/, scripts/, bench/, test/).',
};
const NO_APP = {
  regex: '^(\\.\\./)+(functions|orchestrations|lib)(/|$)',
  message:
    'devhost/ and sandbox/ know nothing of the app: never import functions/, orchestrations/ or lib/.',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-dev/**',
      'devhost/dist/**',
      'node_modules/**',
      'test/fixtures/**',
      'bench/app/**',
      '.azurite/**',
      '.devhost/**',
      '.scratch/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // End-to-end tests read JSON replies loosely; the assertions are the type checks there.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    files: ['*.js', '*.mjs', 'devhost/bin/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: APP_FOLDERS,
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_DEV_TOOLS] }] },
  },
  {
    files: ['devhost/**/*.ts', 'devhost/**/*.js', 'sandbox/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_APP] }] },
  },
  {
    // Orchestrators are deterministic: no I/O, no clock, no process (conventions.md §1).
    files: ['orchestrations/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Orchestrators do no I/O: use an activity.' },
            { group: ['@azure/data-tables'], message: 'Orchestrators do no I/O: use an activity.' },
            {
              group: ['**/lib/store/**', '**/lib/partners/**'],
              message: 'Orchestrators reach the world only through activities.',
            },
            NO_DEV_TOOLS,
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'fetch'],
    },
  },
);
