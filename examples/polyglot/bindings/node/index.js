'use strict';

// Loads the prebuilt native addon for this platform.
const { platform, arch } = process;

function load() {
  if (platform === 'linux' && arch === 'x64') {
    return require('@polyglot/engine-linux-x64-gnu');
  }
  throw new Error(`@polyglot/engine: unsupported platform ${platform}-${arch}`);
}

module.exports = load();
