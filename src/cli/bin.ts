// Entry point for running the CLI from source (`tsx src/cli/bin.ts`); the package's bin runs dist.
import { main } from './main.js';

process.exitCode = await main(process.argv);
