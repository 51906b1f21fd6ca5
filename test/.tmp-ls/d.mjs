import { ensureLocalServer, stopLocalServer } from './dist/src/local-server/daemon.js';
const home = '/tmp/lsx/home-dist';
const info = await ensureLocalServer({ home });
console.log(info.started, info.appUrl, info.pid);
const r = await fetch(info.appUrl + '/v1/project', { headers: { authorization: 'Bearer ' + info.apiKey } });
console.log(r.status, await r.text());
console.log(await stopLocalServer(home));
