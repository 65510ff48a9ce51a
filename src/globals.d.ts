// Replaced at build time by scripts/build.mjs (esbuild `define`); undefined when running from source.
declare const __CREDMUX_BUNDLED__: boolean | undefined;
declare const __CREDMUX_VERSION__: string | undefined;
/** The commit the build was made from (`<12 hex>[-dirty]`), or '' when it was built without git. */
declare const __CREDMUX_COMMIT__: string | undefined;
