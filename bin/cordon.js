#!/usr/bin/env node
// The package's bin: runs the compiled CLI (`npm pack` builds it, in the `prepack` script; in a checkout,
// `npm run build` or `npm start`).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
