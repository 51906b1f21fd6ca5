import { runCommand } from '../../src/cli/run.ts';
const code = await runCommand({ example: true }, { home: '/tmp/fw3/home' });
console.error('exit', code);
process.exit(code);
