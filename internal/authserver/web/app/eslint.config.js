// ESLint configuration of the inbox page (flat config, eslint pinned in
// package.json). The page's sources are browser modules; the tests, the
// build script and the browser-test driver run in Node.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-eval': 'error',
      'no-script-url': 'error',
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Nothing parses HTML: Trusted Types would refuse it at run time, the
      // lint refuses it before.
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'use textContent or DOM nodes' },
        { property: 'outerHTML', message: 'use DOM nodes' },
        { property: 'insertAdjacentHTML', message: 'use DOM nodes' },
        { object: 'document', property: 'write', message: 'use DOM nodes' },
      ],
    },
  },
  { files: ['src/**/*.js'], ignores: ['src/**/*.test.js'], languageOptions: { globals: globals.browser } },
  { files: ['*.mjs', '*.js'], languageOptions: { globals: globals.node } },
  // Tests run in Node; the driver runs in Node and hands functions to the
  // page, so both kinds of globals are there.
  { files: ['src/**/*.test.js', 'browsertest/**/*.mjs'], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
];
