import { execa } from 'execa';
const r = await execa('node_modules/.bin/bt', ['--version'], { reject: false, stdin: 'ignore' });
console.log(r);
