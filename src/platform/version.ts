// The package version, injected at build time; "dev" when running from source.
export const VERSION: string = typeof __CREDMUX_VERSION__ !== 'undefined' ? __CREDMUX_VERSION__ : '0.0.0-dev';
