'use strict';

// Loads the prebuilt native addon for this platform; where none is installed (the example
// publishes no prebuilt binaries), a JavaScript implementation of the same API stands in.
const { platform, arch } = process;

function fallback() {
  return {
    add(a, b) {
      return a + b;
    },
  };
}

function load() {
  if (platform === 'linux' && arch === 'x64') {
    try {
      return require('@polyglot/engine-linux-x64-gnu');
    } catch (error) {
      if (error.code !== 'MODULE_NOT_FOUND') throw error;
    }
  }
  return fallback();
}

module.exports = load();
