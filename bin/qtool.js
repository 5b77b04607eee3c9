#!/usr/bin/env node
// The bin only hands over to the compiled entry; everything else lives in src/.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
