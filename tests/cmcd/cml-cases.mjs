// Prints N random CMCD cases as JSON lines: each encoded by @svta/cml-cmcd in one transmission
// form (payload, query, headers, event body; CMCD v1 or v2) with CML's own decoding of it as the
// expected value. openqoe's decoder must agree on every key and value (crates/cmcd/tests).
// Usage: node cml-cases.mjs N [seed]
import { encodeCmcd, toCmcdQuery, toCmcdHeaders, decodeCmcd, fromCmcdQuery, fromCmcdHeaders, toCmcdValue } from '@svta/cml-cmcd';

const count = Number(process.argv[2] ?? 10000);
let seed = Number(process.argv[3] ?? 42) >>> 0;
// mulberry32: a small seeded generator, so a failing case can be reproduced.
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (max) => Math.floor(random() * max);
const pick = (list) => list[int(list.length)];
const chance = (p) => random() < p;
const text = (max) => {
  const alphabet = 'abcXYZ019 -_./:"\\\\=,;()';
  return Array.from({ length: 1 + int(max) }, () => pick(alphabet)).join('');
};
const OT = ['m', 'a', 'v', 'av', 'i', 'c', 'tt', 'k', 'o'];
const listKeys = ['ab', 'bl', 'br', 'bsa', 'bsd', 'bsda', 'lab', 'lb', 'mtp', 'pb', 'tab', 'tb', 'tbl', 'tpb'];
const intKeys = ['d', 'dfa', 'dl', 'ltc', 'msd', 'pt', 'rtp', 'sn'];
const boolKeys = ['bg', 'bs', 'nr', 'su'];
const stringKeys = { cid: 128, sid: 64, cs: 40, h: 128 };

function randomCmcd(version) {
  const cmcd = {};
  for (const key of listKeys) {
    if (!chance(0.35)) continue;
    cmcd[key] = version === 1
      ? int(50000)
      : Array.from({ length: 1 + int(3) }, () => (chance(0.5) ? toCmcdValue(int(50000), { [pick(OT)]: true }) : int(50000)));
  }
  for (const key of intKeys) if (chance(0.35)) cmcd[key] = int(100000);
  for (const key of boolKeys) if (chance(0.35)) cmcd[key] = chance(0.8);
  for (const [key, max] of Object.entries(stringKeys)) if (chance(0.4)) cmcd[key] = text(Math.min(max, 30));
  if (chance(0.4)) cmcd.ot = pick(OT);
  if (chance(0.4)) cmcd.sf = pick(['d', 'h', 's', 'o']);
  if (chance(0.4)) cmcd.st = pick(['v', 'l']);
  if (chance(0.3)) cmcd.pr = pick([0.5, 1.25, 1.5, 2]);
  if (chance(0.3)) cmcd.nor = version === 1 ? `../seg_${int(999)}.m4s` : [`../seg_${int(999)}.m4s`];
  if (version === 2) {
    if (chance(0.4)) cmcd.sta = pick(['s', 'p', 'k', 'r', 'a', 'e', 'f', 'q', 'd']);
    if (chance(0.3)) cmcd.ec = Array.from({ length: 1 + int(2) }, () => `E${int(999)}`);
    if (chance(0.3)) cmcd.ltc = int(5000);
  }
  if (chance(0.3)) cmcd[`com.example-n${int(5)}`] = pick([int(1000), text(10), true, Symbol.for(pick(['tok', 'a1', 'x']))]);
  return cmcd;
}

// CML's decoding in the shape openqoe prints: list items with an object type become {value, ot}.
function normalise(decoded, version) {
  const out = {};
  for (const [key, value] of Object.entries(decoded)) {
    out[key] = Array.isArray(value)
      ? value.map((item) => {
          if (item && typeof item === 'object' && 'value' in item) {
            const ot = Object.keys(item.params ?? {}).find((p) => OT.includes(p) && item.params[p] === true);
            return ot ? { value: item.value, ot } : item.value;
          }
          return item;
        })
      : typeof value === 'symbol' ? value.description : value;
    // CTA-5004 v1 sends nor URL-encoded; openqoe decodes it, CML keeps it as sent.
    if (version === 1 && key === 'nor') out[key] = out[key].map((path) => decodeURIComponent(path));
  }
  return out;
}

for (let i = 0; i < count; i++) {
  const version = chance(0.25) ? 1 : 2;
  const form = pick(['payload', 'query', 'headers', version === 2 ? 'event' : 'payload']);
  const options = { version, convertToLatest: true };
  let input;
  let expected;
  if (form === 'payload') {
    input = encodeCmcd(randomCmcd(version), { version });
    expected = [normalise(decodeCmcd(input, options), version)];
  } else if (form === 'query') {
    input = toCmcdQuery(randomCmcd(version), { version });
    expected = [normalise(fromCmcdQuery(input, options), version)];
  } else if (form === 'headers') {
    input = toCmcdHeaders(randomCmcd(version), { version });
    expected = [normalise(fromCmcdHeaders(input, options), version)];
  } else {
    const records = Array.from({ length: 1 + int(3) }, () =>
      encodeCmcd({ ...randomCmcd(2), e: pick(['ps', 't', 'e', 'bc']), ts: 1764028800000 + int(1e6) }, { version: 2, reportingMode: 'event' }));
    input = records.join('\n') + '\n';
    expected = records.map((record) => normalise(decodeCmcd(record, options), 2));
  }
  process.stdout.write(JSON.stringify({ form, version, input, expected }) + '\n');
}
