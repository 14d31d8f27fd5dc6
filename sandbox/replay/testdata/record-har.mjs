// Records shop.har, the HAR file the replay golden tests read: headless
// Chromium loads a page from a local server under the name
// shop.example.com, and the page fetches what a shop's front end would.
// The file is what Chromium's HAR recorder writes, committed as it is.
//
//   node sandbox/replay/testdata/record-har.mjs
//
// playwright-core comes from the frontend's dependencies; CHROMIUM names
// the browser (default /usr/bin/chromium).
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(new URL('../../../frontend/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const out = fileURLToPath(new URL('./shop.har', import.meta.url));

const page = `<!doctype html><title>shop</title><script type="module">
const get = (path, init) => fetch(path, init).then((r) => r.text());
await get('/static/app.js');
await get('/api/cart/items?sort=recent');
await get('/api/products?page=2', { headers: { 'x-canary': '1' } });
await get('/api/orders', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer do-not-show' }, body: '{}' });
await get('/legacy/catalog');
await get('/docs/intro');
await get('/healthz');
await get('/blog/2026/launch', { redirect: 'manual' });
document.title = 'done';
</script>`;

const server = createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'session=s3cr3t; Path=/' });
    res.end(page);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`${req.method} ${req.url}\n`);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const port = server.address().port;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [`--host-resolver-rules=MAP shop.example.com 127.0.0.1`],
});
try {
  const context = await browser.newContext({ recordHar: { path: out, content: 'omit' } });
  const tab = await context.newPage();
  await tab.goto(`http://shop.example.com:${port}/`);
  await tab.waitForFunction(() => document.title === 'done');
  await context.close(); // writes the HAR
} finally {
  await browser.close();
  server.close();
}
console.log(`wrote ${out}`);
