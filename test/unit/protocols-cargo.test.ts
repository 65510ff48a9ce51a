// The cargo registry → credmux URL mapping, spelled out (docs/protocols.md §10.3): the URL cargo puts in
// `registry.index-url` (rust-lang/cargo src/util/auth/mod.rs, credential_action: `sid.url()`) and the
// URL credmux's rules are matched against.
import { describe, expect, it } from 'vitest';
import { registryUrl } from '../../src/protocols/cargo.js';

describe('registryUrl', () => {
  it.each([
    ['sparse+https://pkgs.example.test/index/', 'https://pkgs.example.test/index/'],
    ['sparse+http://127.0.0.1:8080/index/', 'http://127.0.0.1:8080/index/'],
    ['SPARSE+HTTPS://Pkgs.Example.Test/', 'HTTPS://Pkgs.Example.Test/'],
    ['sparse+https://index.crates.io/', 'https://index.crates.io/'],
    // A git index: cargo's token is for its API and downloads; the index URL still names the registry.
    ['https://github.com/rust-lang/crates.io-index', 'https://github.com/rust-lang/crates.io-index'],
  ])('%s → %s', (index, url) => {
    expect(registryUrl(index)).toBe(url);
  });

  it.each([
    'ssh://git@pkgs.example.test/index.git',
    'git://pkgs.example.test/index',
    'file:///srv/index',
    'sparse+file:///srv/index/',
    'registry+https://pkgs.example.test/index',
    'sparse+ftp://pkgs.example.test/',
    'sparse+https://*.example.test/index/',
    'https://*.example.test/',
    '',
  ])('%j → not served (url-not-supported)', (index) => {
    expect(registryUrl(index)).toBeUndefined();
  });
});
