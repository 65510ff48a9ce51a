// ESLint: the recommended JavaScript and TypeScript rules, and the folder layering of src/ (which
// folder may import which: docs/architecture.md "Folder layout"). Run by `npm run lint` (and npm test).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { folderLayers } from './scripts/lint/folder-layers.mjs';

export default tseslint.config(
  { ignores: ['dist/', 'dist.*/', 'node_modules/', 'coverage/', 'src/generated/', '.scratch/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `catch {}` is how a best-effort step says "nothing to do": the comment beside it says why.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // The protocol parsers and the log writer refuse or escape control characters on purpose.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  // CommonJS files (a -r preload for tests) and the one run-time require the bundler must leave alone.
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
  { files: ['src/**/*.ts'], plugins: { layers: folderLayers.plugin }, rules: { 'layers/imports': 'error' } },
);
