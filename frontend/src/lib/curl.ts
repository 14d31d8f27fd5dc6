// Reading a pasted curl command into a sandbox request, so a request copied
// from a terminal or a browser's "copy as cURL" can be replayed as is.

import type { SandboxRequest } from './model';

/** Splits a shell command line into words the way a POSIX shell would (quotes, escapes, line continuations). */
export function shellWords(src: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (ch === '\\' && src[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (ch === "'") {
      const end = src.indexOf("'", i + 1);
      if (end < 0) throw new Error('unterminated single quote');
      cur += src.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      i++;
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\\' && i + 1 < src.length && '"\\$`\n'.includes(src[i + 1])) i++;
        cur += src[i++];
      }
      if (i >= src.length) throw new Error('unterminated double quote');
      i++;
    } else if (ch === '$' && src[i + 1] === "'") {
      // $'...' strings as Chrome's "copy as cURL (bash)" writes them.
      i += 2;
      while (i < src.length && src[i] !== "'") {
        if (src[i] === '\\' && i + 1 < src.length) {
          const e = src[i + 1];
          cur += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
        } else cur += src[i++];
      }
      i++;
    } else if (ch === '\\' && i + 1 < src.length) {
      cur += src[i + 1];
      i += 2;
    } else {
      cur += ch;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

const IGNORED_FLAGS = new Set(['-s', '--silent', '-S', '--show-error', '-v', '--verbose', '-k', '--insecure', '-L', '--location', '-i', '--include', '--compressed', '-g', '--globoff', '-f', '--fail']);
const FLAGS_WITH_ARG_IGNORED = new Set(['-o', '--output', '-m', '--max-time', '--connect-timeout', '-w', '--write-out', '--resolve', '-x', '--proxy']);

/** Parses `curl ...` into method, URL, headers and body. Throws with a readable message. */
export function parseCurl(cmd: string): SandboxRequest {
  const words = shellWords(cmd.trim());
  if (words[0] !== 'curl') throw new Error('a curl command starts with "curl"');
  let method = '';
  let url = '';
  const headers: Record<string, string> = {};
  const data: string[] = [];
  for (let i = 1; i < words.length; i++) {
    let w = words[i];
    let arg: string | undefined;
    const eq = w.startsWith('--') ? w.indexOf('=') : -1;
    if (eq > 0) {
      arg = w.slice(eq + 1);
      w = w.slice(0, eq);
    }
    const next = () => {
      if (arg !== undefined) return arg;
      if (i + 1 >= words.length) throw new Error(`${w} needs a value`);
      return words[++i];
    };
    if (w === '-X' || w === '--request') method = next().toUpperCase();
    else if (w === '-H' || w === '--header') {
      const h = next();
      const c = h.indexOf(':');
      if (c <= 0) throw new Error(`header "${h}" has no ":"`);
      headers[h.slice(0, c).trim().toLowerCase()] = h.slice(c + 1).trim();
    } else if (['-d', '--data', '--data-raw', '--data-binary', '--data-ascii', '--json'].includes(w)) {
      data.push(next());
      if (w === '--json') {
        headers['content-type'] ??= 'application/json';
        headers['accept'] ??= 'application/json';
      }
    } else if (w === '--url') url = next();
    else if (w === '-I' || w === '--head') method = 'HEAD';
    else if (w === '-A' || w === '--user-agent') headers['user-agent'] = next();
    else if (w === '-b' || w === '--cookie') headers['cookie'] = next();
    else if (w === '-e' || w === '--referer') headers['referer'] = next();
    else if (w === '-u' || w === '--user') headers['authorization'] = 'Basic ' + btoa(next());
    else if (IGNORED_FLAGS.has(w)) continue;
    else if (FLAGS_WITH_ARG_IGNORED.has(w)) next();
    else if (w.startsWith('-')) throw new Error(`option ${w} is not supported`);
    else url = w;
  }
  if (!url) throw new Error('no URL in the command');
  if (!/^[a-z]+:\/\//i.test(url)) url = 'http://' + url;
  const body = data.length ? data.join('&') : undefined;
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/x-www-form-urlencoded';
  return { method: method || (body !== undefined ? 'POST' : 'GET'), url, headers, body };
}
