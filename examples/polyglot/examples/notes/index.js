'use strict';

const engine = require('@polyglot/engine');

console.log(`2 + 3 = ${engine.add(2, 3)}`);
