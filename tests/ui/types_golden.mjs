// Writes a TypeScript file that assigns every JSON answer pinned in
// tests/golden/api_responses.json to the type ui/src/types gives its
// endpoint, for tsc to check (types_test.sh): an object literal with a
// field the type lacks, or without one it requires, or of another type,
// fails. Usage: node types_golden.mjs ROOT OUT.ts
import { readFileSync, writeFileSync } from 'node:fs';

const [root, out] = process.argv.slice(2);
const golden = JSON.parse(readFileSync(`${root}/tests/golden/api_responses.json`, 'utf8'));

// "METHOD path" (ids as {id}) -> the answer's type.
const TYPES = {
  'GET /api/v1/me': 'MeResponse',
  'GET /api/v1/calls': 'CallsResponse',
  'GET /api/v1/calls/{id}': 'CallResponse',
  'GET /api/v1/registrations': 'RegistrationsResponse',
  'GET /api/v1/registrations/current': 'RegistrationsCurrentResponse',
  'GET /api/v1/stats/summary': 'StatsSummaryResponse',
  'GET /api/v1/stats/periods': 'StatsPeriodsResponse',
  'GET /api/v1/stats/top': 'StatsTopResponse',
  'GET /api/v1/stats/quality': 'StatsQualityResponse',
  'GET /api/v1/stats/traffic': 'StatsTrafficResponse',
  'GET /api/v1/alerts': 'AlertsResponse',
  'GET /api/v1/alerts/rules': 'AlertRulesResponse',
};

const lines = [`import type * as T from '${root}/ui/src/types';`];
const untyped = [];
let n = 0;
for (const [request, answer] of Object.entries(golden)) {
  const body = (answer.body ?? '').trim();
  if (!body || !String(answer.content_type).includes('json')) continue;  // HEAD, pcap
  const [method, target] = request.split(' ');
  const key = `${method} ${target.split('?')[0].replace(/\/\d+(?=\/|$)/g, '/{id}')}`;
  const type = answer.status >= 400 ? 'ErrorResponse' : TYPES[key];
  if (!type) {
    untyped.push(request);
    continue;
  }
  n += 1;
  lines.push(`// ${request.replace(/\*\//g, '*_/')} (${answer.status})`,
    `export const a${n}: T.${type} = ${body};`);
}
if (untyped.length) {
  console.error(`no type for the answers of: ${untyped.join(', ')} (add them to TYPES)`);
  process.exit(1);
}
writeFileSync(out, `${lines.join('\n')}\n`);
console.log(`${n} answers to check`);
