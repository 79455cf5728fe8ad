// Tests of the call media's classification and formatting
// (ui/src/media.ts), compiled to JavaScript by media_test.sh, which passes
// its path in MEDIA_JS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const m = await import(pathToFileURL(process.env.MEDIA_JS).href);

// The media fields of a call as the API writes them for a call without RTP
// (docs/SCHEMA.md), with `extra` over them.
function call(extra = {}) {
  return {
    caller_rtp_codec: '', callee_rtp_codec: '', caller_rtp_packets: 0, callee_rtp_packets: 0,
    caller_rtp_lost: 0, callee_rtp_lost: 0, caller_rtp_loss_pct: 0, callee_rtp_loss_pct: 0,
    caller_rtp_max_jitter_ms: 0, callee_rtp_max_jitter_ms: 0, caller_mos_min: -1,
    caller_mos_avg: -1, callee_mos_min: -1, callee_mos_avg: -1, mos_min: -1, rtp_streams: 0,
    first_rtp_ms: -1, media_flags: '',
    ...extra,
  };
}

test('MOS classes: good from 4.0, fair from 3.6, poor below, none for -1', () => {
  assert.equal(m.mosClass(4.41), 'good');
  assert.equal(m.mosClass(4.0), 'good');
  assert.equal(m.mosClass(3.99), 'fair');
  assert.equal(m.mosClass(3.6), 'fair');
  assert.equal(m.mosClass(3.59), 'poor');
  assert.equal(m.mosClass(1), 'poor');
  assert.equal(m.mosClass(-1), 'none');
  assert.equal(m.mosClass(0), 'none');
  assert.equal(m.mosClass(Number.NaN), 'none');
});

test('a MOS has two decimals, a dash when not computable', () => {
  assert.equal(m.formatMos(4.4129), '4.41');
  assert.equal(m.formatMos(3.6), '3.60');
  assert.equal(m.formatMos(-1), m.NO_VALUE);
  assert.equal(m.describeMos(3.2), '3.20 (poor)');
  assert.equal(m.describeMos(-1), 'not computable');
});

test('a MOS lies on the 1 to 4.5 scale', () => {
  assert.equal(m.mosFraction(1), 0);
  assert.equal(m.mosFraction(4.5), 1);
  assert.equal(m.mosFraction(2.75), 0.5);
  assert.equal(m.mosFraction(4.7), 1);
  assert.equal(m.mosFraction(-1), 0);
});

test('media_flags: every flag has a label, in order; unknown flags keep their name', () => {
  assert.deepEqual(m.parseFlags(''), []);
  assert.deepEqual(m.flagLabels(''), []);
  assert.deepEqual(m.flagLabels('one_way,no_media,unexpected_source,after_bye,codec_not_in_answer'), [
    'One-way audio', 'No media after answer', 'Media from an unexpected address (NAT?)',
    'Media after BYE', 'Codec not in the answer']);
  assert.deepEqual(m.flagLabels('after_bye, new_flag'), ['Media after BYE', 'new_flag']);
});

test('the call list marks one-way audio and no media only', () => {
  assert.deepEqual(m.listMarkers(''), []);
  assert.deepEqual(m.listMarkers('unexpected_source,after_bye'), []);
  assert.deepEqual(m.listMarkers('one_way,after_bye'),
    [{ flag: 'one_way', text: 'one-way', title: 'One-way audio' }]);
  assert.deepEqual(m.listMarkers('no_media'),
    [{ flag: 'no_media', text: 'no media', title: 'No media after answer' }]);
});

test('every flag has a short marker with its label as title and its severity', () => {
  assert.deepEqual(m.flagMarkers(''), []);
  assert.deepEqual(m.flagMarkers('one_way,unexpected_source,odd').map((x) =>
    [x.flag, x.text, x.title, x.severity]), [
    ['one_way', 'one-way', 'One-way audio', 'bad'],
    ['unexpected_source', 'NAT?', 'Media from an unexpected address (NAT?)', 'warn'],
    ['odd', 'odd', 'odd', 'warn']]);
  assert.deepEqual(m.flagMarkers('no_media,after_bye,codec_not_in_answer').map((x) => x.text),
    ['no media', 'after BYE', 'odd codec']);
});

test('warnings: severity, and the silent side of one-way audio', () => {
  const w = m.mediaWarnings(call({ media_flags: 'one_way,unexpected_source', caller_rtp_packets: 500 }));
  assert.deepEqual(w.map((x) => [x.flag, x.label, x.severity]), [
    ['one_way', 'One-way audio', 'bad'],
    ['unexpected_source', 'Media from an unexpected address (NAT?)', 'warn']]);
  assert.match(w[0].hint, /no RTP from the callee/);
  const back = m.mediaWarnings(call({ media_flags: 'one_way', callee_rtp_packets: 20 }));
  assert.match(back[0].hint, /no RTP from the caller/);
  assert.equal(m.mediaWarnings(call({ media_flags: 'no_media' }))[0].severity, 'bad');
  assert.deepEqual(m.mediaWarnings(call()), []);
  assert.deepEqual(m.mediaWarnings(call({ media_flags: 'odd' })),
    [{ flag: 'odd', label: 'odd', hint: '', severity: 'warn' }]);
});

test('the Media panel shows figures with RTP streams or with a flag only', () => {
  assert.equal(m.hasMediaFigures(call()), false);
  assert.equal(m.hasMediaFigures(call({ rtp_streams: 2 })), true);
  assert.equal(m.hasMediaFigures(call({ media_flags: 'no_media' })), true);
});

test('loss, jitter and the time to the first RTP packet', () => {
  assert.equal(m.formatLoss(0, 0), '0');
  assert.equal(m.formatLoss(12, 0.4878), '12 (0.5 %)');
  assert.equal(m.formatLoss(1, 0.02), '1 (< 0.1 %)');
  assert.equal(m.formatJitter(3.214, 100), '3.2 ms');
  assert.equal(m.formatJitter(0, 0), m.NO_VALUE);
  assert.equal(m.formatFirstRtp(-1), m.NO_VALUE);
  assert.equal(m.formatFirstRtp(0), '0 ms (early media)');
  assert.equal(m.formatFirstRtp(87), '87 ms');
  assert.equal(m.formatFirstRtp(1250), '1.25 s');
});

test('one row per direction: caller to callee first', () => {
  const d = m.directions(call({
    caller_rtp_codec: 'PCMA', caller_rtp_packets: 1500, caller_rtp_lost: 30, caller_rtp_loss_pct: 1.96,
    caller_rtp_max_jitter_ms: 12.345, caller_mos_min: 3.71, caller_mos_avg: 4.02,
    callee_rtp_codec: '', callee_rtp_packets: 0, rtp_streams: 1, media_flags: 'one_way',
  }));
  assert.deepEqual(d, [
    { side: 'caller', label: 'Caller → callee', codec: 'PCMA', packets: 1500, lost: '30 (2.0 %)',
      maxJitter: '12.3 ms', mosMin: 3.71, mosAvg: 4.02 },
    { side: 'callee', label: 'Callee → caller', codec: m.NO_VALUE, packets: 0, lost: '0',
      maxJitter: m.NO_VALUE, mosMin: -1, mosAvg: -1 },
  ]);
});
