import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  defaultTargetNegotiationConfig,
  NegotiationError,
  OperationalNegotiator,
  rfcDefaultSessionParams,
  type SessionParams,
  type TargetNegotiationConfig,
} from '../../../src/iscsi/negotiation.js';

type Pair = [string, string];

function normal(overrides: Partial<TargetNegotiationConfig> = {}): OperationalNegotiator {
  return new OperationalNegotiator('Normal', { ...defaultTargetNegotiationConfig, ...overrides });
}

/** Answer a single key and return the reply and the negotiated parameters. */
function negotiateOne(
  key: string,
  value: string,
  overrides: Partial<TargetNegotiationConfig> = {},
): { reply: Pair[]; params: SessionParams; error?: NegotiationError } {
  const n = normal(overrides);
  const { reply, error } = n.respond([[key, value]]);
  return { reply, params: n.result(), error };
}

describe('result functions (Normal session, default target config)', () => {
  // key, offer, answer, SessionParams field, negotiated value, target overrides
  const cases: [string, string, string, keyof SessionParams, SessionParams[keyof SessionParams], Partial<TargetNegotiationConfig>?][] = [
    // OR
    ['InitialR2T', 'No', 'No', 'initialR2T', false],
    ['InitialR2T', 'Yes', 'Yes', 'initialR2T', true],
    ['InitialR2T', 'No', 'Yes', 'initialR2T', true, { initialR2T: true }],
    ['DataPDUInOrder', 'No', 'Yes', 'dataPduInOrder', true],
    ['DataPDUInOrder', 'Yes', 'Yes', 'dataPduInOrder', true],
    ['DataSequenceInOrder', 'No', 'Yes', 'dataSequenceInOrder', true],
    // AND
    ['ImmediateData', 'Yes', 'Yes', 'immediateData', true],
    ['ImmediateData', 'No', 'No', 'immediateData', false],
    ['ImmediateData', 'Yes', 'No', 'immediateData', false, { immediateData: false }],
    // Minimum
    ['MaxBurstLength', '16776192', '1048576', 'maxBurstLength', 1048576],
    ['MaxBurstLength', '65536', '65536', 'maxBurstLength', 65536],
    ['MaxBurstLength', '512', '512', 'maxBurstLength', 512],
    ['MaxBurstLength', '16777215', '131072', 'maxBurstLength', 131072, { maxBurstLength: 131072, firstBurstLength: 65536 }],
    ['FirstBurstLength', '16776192', '262144', 'firstBurstLength', 262144],
    ['FirstBurstLength', '4096', '4096', 'firstBurstLength', 4096],
    ['MaxOutstandingR2T', '16', '1', 'maxOutstandingR2T', 1],
    ['MaxOutstandingR2T', '16', '8', 'maxOutstandingR2T', 8, { maxOutstandingR2T: 8 }],
    ['MaxOutstandingR2T', '4', '4', 'maxOutstandingR2T', 4, { maxOutstandingR2T: 8 }],
    ['DefaultTime2Retain', '0', '0', 'defaultTime2Retain', 0],
    ['DefaultTime2Retain', '3600', '20', 'defaultTime2Retain', 20],
    ['MaxConnections', '1', '1', 'maxConnections', 1],
    ['MaxConnections', '8', '1', 'maxConnections', 1],
    ['ErrorRecoveryLevel', '0', '0', 'errorRecoveryLevel', 0],
    ['ErrorRecoveryLevel', '2', '0', 'errorRecoveryLevel', 0],
    // Maximum
    ['DefaultTime2Wait', '0', '2', 'defaultTime2Wait', 2],
    ['DefaultTime2Wait', '10', '10', 'defaultTime2Wait', 10],
    ['DefaultTime2Wait', '3600', '3600', 'defaultTime2Wait', 3600],
    // List: the initiator's first value the target supports
    ['HeaderDigest', 'None', 'None', 'headerDigest', false],
    ['HeaderDigest', 'CRC32C', 'CRC32C', 'headerDigest', true],
    ['HeaderDigest', 'None,CRC32C', 'None', 'headerDigest', false],
    ['HeaderDigest', 'CRC32C,None', 'CRC32C', 'headerDigest', true],
    ['HeaderDigest', 'X-vendor.crc,CRC32C', 'CRC32C', 'headerDigest', true],
    ['HeaderDigest', 'CRC32C,None', 'None', 'headerDigest', false, { headerDigests: ['None'] }],
    ['DataDigest', 'CRC32C,None', 'CRC32C', 'dataDigest', true],
    ['DataDigest', 'None,CRC32C', 'CRC32C', 'dataDigest', true, { dataDigests: ['CRC32C'] }],
    // Hex numerical constants are valid (RFC 7143 §6.1)
    ['MaxBurstLength', '0x10000', '65536', 'maxBurstLength', 65536],
  ];

  it.each(cases)('%s=%s -> %s', (key, offer, answer, field, value, overrides) => {
    const { reply, params, error } = negotiateOne(key, offer, overrides);
    expect(error).toBeUndefined();
    expect(reply).toEqual([[key, answer]]);
    expect(params[field]).toBe(value);
  });
});

describe('declarative MaxRecvDataSegmentLength', () => {
  it("records the initiator's value as ours to transmit and declares ours once", () => {
    const n = normal({ maxRecvDataSegmentLength: 131072 });
    expect(n.respond([['MaxRecvDataSegmentLength', '65536']]).reply).toEqual([['MaxRecvDataSegmentLength', '131072']]);
    expect(n.result().maxXmitDataSegmentLength).toBe(65536);
    expect(n.result().maxRecvDataSegmentLength).toBe(131072);
    expect(n.finalDeclarations()).toEqual([]);
  });

  it('defaults to 8192 both ways until declared; finalDeclarations declares ours', () => {
    const n = normal();
    expect(n.result().maxXmitDataSegmentLength).toBe(8192);
    expect(n.result().maxRecvDataSegmentLength).toBe(8192);
    expect(n.finalDeclarations()).toEqual([['MaxRecvDataSegmentLength', '262144']]);
    expect(n.result().maxRecvDataSegmentLength).toBe(262144);
    expect(n.finalDeclarations()).toEqual([]);
  });

  it.each(['511', '16777216', 'big', ''])('rejects %j and keeps 8192', (value) => {
    const n = normal();
    expect(n.respond([['MaxRecvDataSegmentLength', value]]).reply).toEqual([['MaxRecvDataSegmentLength', 'Reject']]);
    expect(n.result().maxXmitDataSegmentLength).toBe(8192);
    // Our own declaration still goes out at the end.
    expect(n.finalDeclarations()).toEqual([['MaxRecvDataSegmentLength', '262144']]);
  });

  it('accepts the range bounds', () => {
    expect(negotiateOne('MaxRecvDataSegmentLength', '512').params.maxXmitDataSegmentLength).toBe(512);
    expect(negotiateOne('MaxRecvDataSegmentLength', '16777215').params.maxXmitDataSegmentLength).toBe(16777215);
  });
});

describe('invalid values are answered Reject and keep the default', () => {
  const cases: [string, string, keyof SessionParams][] = [
    ['MaxBurstLength', '511', 'maxBurstLength'],
    ['MaxBurstLength', '16777216', 'maxBurstLength'],
    ['MaxBurstLength', '-1', 'maxBurstLength'],
    ['MaxBurstLength', '1.5', 'maxBurstLength'],
    ['MaxBurstLength', ' 65536', 'maxBurstLength'],
    ['MaxBurstLength', '065536', 'maxBurstLength'],
    ['MaxBurstLength', '0x', 'maxBurstLength'],
    ['MaxBurstLength', '99999999999999999999999', 'maxBurstLength'],
    ['FirstBurstLength', '511', 'firstBurstLength'],
    ['FirstBurstLength', '16777216', 'firstBurstLength'],
    ['DefaultTime2Wait', '3601', 'defaultTime2Wait'],
    ['DefaultTime2Retain', '3601', 'defaultTime2Retain'],
    ['DefaultTime2Retain', 'abc', 'defaultTime2Retain'],
    ['MaxOutstandingR2T', '0', 'maxOutstandingR2T'],
    ['MaxOutstandingR2T', '65536', 'maxOutstandingR2T'],
    ['MaxConnections', '0', 'maxConnections'],
    ['MaxConnections', '65536', 'maxConnections'],
    ['ErrorRecoveryLevel', '3', 'errorRecoveryLevel'],
    ['InitialR2T', 'yes', 'initialR2T'],
    ['InitialR2T', 'NO', 'initialR2T'],
    ['ImmediateData', '', 'immediateData'],
    ['ImmediateData', '1', 'immediateData'],
    ['DataPDUInOrder', 'True', 'dataPduInOrder'],
    ['DataSequenceInOrder', 'Yes,No', 'dataSequenceInOrder'],
  ];

  it.each(cases)('%s=%j', (key, value, field) => {
    const { reply, params, error } = negotiateOne(key, value);
    expect(error).toBeUndefined();
    expect(reply).toEqual([[key, 'Reject']]);
    expect(params[field]).toBe(rfcDefaultSessionParams[field]);
  });

  it('rejects a digest list with nothing acceptable when the default None is acceptable', () => {
    const { reply, params, error } = negotiateOne('HeaderDigest', 'CRC32C', { headerDigests: ['None'] });
    expect(error).toBeUndefined();
    expect(reply).toEqual([['HeaderDigest', 'Reject']]);
    expect(params.headerDigest).toBe(false);
    expect(negotiateOne('DataDigest', 'MD5,SHA1').reply).toEqual([['DataDigest', 'Reject']]);
  });

  it('fails when the target requires a digest the initiator refuses', () => {
    const { error } = negotiateOne('HeaderDigest', 'None', { headerDigests: ['CRC32C'] });
    expect(error).toBeInstanceOf(NegotiationError);
    expect(error?.code).toBe('NO_COMMON_VALUE');
    expect(error?.key).toBe('HeaderDigest');
  });
});

describe('keys with fixed answers', () => {
  it.each([
    ['IFMarker', 'Yes', 'No'],
    ['IFMarker', 'No', 'No'],
    ['OFMarker', 'Yes', 'No'],
    ['OFMarker', 'No', 'No'],
    ['IFMarker', 'maybe', 'Reject'],
    ['IFMarkInt', '2048~8192', 'Reject'],
    ['OFMarkInt', '2048', 'Reject'],
    ['TaskReporting', 'RFC3720', 'RFC3720'],
    ['TaskReporting', 'FastAbort,ResponseFence,RFC3720', 'RFC3720'],
    ['TaskReporting', 'FastAbort', 'Reject'],
    ['iSCSIProtocolLevel', '1', '1'],
    ['iSCSIProtocolLevel', '2', '1'],
    ['iSCSIProtocolLevel', '0', '0'],
    ['iSCSIProtocolLevel', '32', 'Reject'],
  ])('%s=%s -> %s', (key, offer, answer) => {
    expect(negotiateOne(key, offer).reply).toEqual([[key, answer]]);
  });

  it.each(['X-com.example.Feature', 'X#registered', 'FooBar', 'RDMAExtensions', 'headerdigest'])(
    'answers NotUnderstood to %s',
    (key) => {
      expect(negotiateOne(key, 'Yes').reply).toEqual([[key, 'NotUnderstood']]);
    },
  );

  it('ignores login, authentication and discovery keys', () => {
    const n = normal();
    const { reply, error } = n.respond([
      ['InitiatorName', 'iqn.1993-08.org.debian:01:abc'],
      ['InitiatorAlias', 'host'],
      ['TargetName', 'iqn.2024-01.org.scatter:disk'],
      ['SessionType', 'Normal'],
      ['AuthMethod', 'CHAP,None'],
      ['CHAP_A', '5'],
      ['CHAP_N', 'user'],
      ['SendTargets', 'All'],
    ]);
    expect(error).toBeUndefined();
    expect(reply).toEqual([]);
  });

  it('does not answer the reserved answer values when offered', () => {
    expect(negotiateOne('MaxBurstLength', 'NotUnderstood').reply).toEqual([]);
    expect(negotiateOne('InitialR2T', 'Irrelevant').reply).toEqual([]);
    expect(negotiateOne('HeaderDigest', 'Reject').reply).toEqual([]);
  });
});

describe('FirstBurstLength never exceeds MaxBurstLength', () => {
  it('clamps the answer when both come in one request, whatever the order', () => {
    const n = normal();
    const { reply } = n.respond([
      ['FirstBurstLength', '262144'],
      ['MaxBurstLength', '131072'],
    ]);
    expect(reply).toEqual([
      ['FirstBurstLength', '131072'],
      ['MaxBurstLength', '131072'],
    ]);
    expect(n.result()).toMatchObject({ maxBurstLength: 131072, firstBurstLength: 131072 });
  });

  it('clamps against the default MaxBurstLength when that is not offered', () => {
    expect(negotiateOne('FirstBurstLength', '1048576', { maxBurstLength: 1048576, firstBurstLength: 1048576 }).reply).toEqual([
      ['FirstBurstLength', '262144'],
    ]);
  });

  it('clamps the result when MaxBurstLength shrinks in a later request', () => {
    const n = normal();
    expect(n.respond([['FirstBurstLength', '262144']]).reply).toEqual([['FirstBurstLength', '262144']]);
    n.respond([['MaxBurstLength', '65536']]);
    expect(n.result()).toMatchObject({ maxBurstLength: 65536, firstBurstLength: 65536 });
  });

  it('holds for any offers and target limits, and every numeric answer is the outcome', () => {
    const len = fc.integer({ min: 512, max: 16777215 });
    fc.assert(
      fc.property(len, len, len, len, fc.boolean(), (offerMax, offerFirst, targetMax, targetFirstRaw, firstKeyFirst) => {
        const targetFirst = Math.min(targetFirstRaw, targetMax);
        const n = normal({ maxBurstLength: targetMax, firstBurstLength: targetFirst });
        const offers: Pair[] = [
          ['MaxBurstLength', String(offerMax)],
          ['FirstBurstLength', String(offerFirst)],
        ];
        if (firstKeyFirst) offers.reverse();
        const answers = new Map(n.respond(offers).reply);
        const p = n.result();
        expect(p.firstBurstLength).toBeLessThanOrEqual(p.maxBurstLength);
        expect(p.maxBurstLength).toBe(Math.min(offerMax, targetMax));
        // The initiator takes our answers as the outcome; they must match what we use.
        expect(answers.get('MaxBurstLength')).toBe(String(p.maxBurstLength));
        expect(answers.get('FirstBurstLength')).toBe(String(p.firstBurstLength));
      }),
      { numRuns: 200 },
    );
  });
});

describe('duplicates', () => {
  it('fails on a key offered twice in one request', () => {
    const { reply, error } = normal().respond([
      ['MaxBurstLength', '65536'],
      ['MaxBurstLength', '65536'],
    ]);
    expect(error?.code).toBe('DUPLICATE_KEY');
    expect(error?.key).toBe('MaxBurstLength');
    expect(reply).toEqual([['MaxBurstLength', '65536']]);
  });

  it('fails on a key offered again in a later request of the same login', () => {
    const n = normal();
    expect(n.respond([['ImmediateData', 'Yes']]).error).toBeUndefined();
    expect(n.respond([['ImmediateData', 'Yes']]).error?.code).toBe('DUPLICATE_KEY');
  });

  it('counts unknown and rejected keys too', () => {
    const n = normal();
    n.respond([
      ['X-foo', '1'],
      ['MaxBurstLength', 'bad'],
    ]);
    expect(n.respond([['X-foo', '1']]).error?.code).toBe('DUPLICATE_KEY');
    expect(n.respond([['MaxBurstLength', '512']]).error?.code).toBe('DUPLICATE_KEY');
  });

  it('fails on a key the initiator offers after we declared it', () => {
    const n = normal({ immediateData: false });
    expect(n.finalDeclarations()).toContainEqual(['ImmediateData', 'No']);
    expect(n.respond([['ImmediateData', 'Yes']]).error?.code).toBe('DUPLICATE_KEY');
  });
});

describe('Discovery session', () => {
  const irrelevant: Pair[] = [
    ['InitialR2T', 'No'],
    ['ImmediateData', 'Yes'],
    ['MaxBurstLength', '262144'],
    ['FirstBurstLength', '262144'],
    ['MaxOutstandingR2T', '1'],
    ['MaxConnections', '1'],
    ['DataPDUInOrder', 'Yes'],
    ['DataSequenceInOrder', 'Yes'],
    ['TaskReporting', 'RFC3720'],
  ];

  it.each(irrelevant)('answers %s Irrelevant', (key, value) => {
    const n = new OperationalNegotiator('Discovery');
    expect(n.respond([[key, value]]).reply).toEqual([[key, 'Irrelevant']]);
  });

  it('answers Irrelevant even to an invalid value of an irrelevant key', () => {
    const n = new OperationalNegotiator('Discovery');
    expect(n.respond([['MaxBurstLength', 'junk']]).reply).toEqual([['MaxBurstLength', 'Irrelevant']]);
  });

  it('negotiates the relevant keys (open-iscsi discovery login)', () => {
    const n = new OperationalNegotiator('Discovery');
    const { reply, error } = n.respond([
      ['HeaderDigest', 'None'],
      ['DataDigest', 'None'],
      ['DefaultTime2Wait', '2'],
      ['DefaultTime2Retain', '0'],
      ['IFMarker', 'No'],
      ['OFMarker', 'No'],
      ['ErrorRecoveryLevel', '0'],
      ['MaxRecvDataSegmentLength', '32768'],
    ]);
    expect(error).toBeUndefined();
    expect(reply).toEqual([
      ['HeaderDigest', 'None'],
      ['DataDigest', 'None'],
      ['DefaultTime2Wait', '2'],
      ['DefaultTime2Retain', '0'],
      ['IFMarker', 'No'],
      ['OFMarker', 'No'],
      ['ErrorRecoveryLevel', '0'],
      ['MaxRecvDataSegmentLength', '262144'],
    ]);
    expect(n.finalDeclarations()).toEqual([]);
    expect(n.unmetRequirement()).toBeUndefined();
    expect(n.result()).toEqual({
      ...rfcDefaultSessionParams,
      maxRecvDataSegmentLength: 262144,
      maxXmitDataSegmentLength: 32768,
      defaultTime2Retain: 0,
    });
  });

  it('keeps RFC defaults for irrelevant keys and declares nothing but MaxRecvDataSegmentLength', () => {
    const n = new OperationalNegotiator('Discovery', { ...defaultTargetNegotiationConfig, immediateData: false });
    n.respond(irrelevant);
    expect(n.finalDeclarations()).toEqual([['MaxRecvDataSegmentLength', '262144']]);
    expect(n.result()).toEqual({ ...rfcDefaultSessionParams, maxRecvDataSegmentLength: 262144 });
  });

  it('answers iSCSIProtocolLevel', () => {
    const n = new OperationalNegotiator('Discovery');
    expect(n.respond([['iSCSIProtocolLevel', '1']]).reply).toEqual([['iSCSIProtocolLevel', '1']]);
  });
});

describe('keys the initiator did not offer', () => {
  it('gives RFC defaults when nothing is negotiated', () => {
    expect(normal().result()).toEqual(rfcDefaultSessionParams);
  });

  it('declares ImmediateData=No when the target forbids it and the initiator never offered it', () => {
    const n = normal({ immediateData: false });
    n.respond([['MaxBurstLength', '262144']]);
    expect(n.finalDeclarations()).toEqual([
      ['MaxRecvDataSegmentLength', '262144'],
      ['ImmediateData', 'No'],
    ]);
    expect(n.result().immediateData).toBe(false);
  });

  it('declares nothing extra when the defaults already match the target', () => {
    // InitialR2T defaults to Yes, so a target that wants it needs no declaration.
    const n = normal({ initialR2T: true });
    expect(n.finalDeclarations()).toEqual([['MaxRecvDataSegmentLength', '262144']]);
    expect(n.result().initialR2T).toBe(true);
  });

  it('does not re-declare a key the initiator offered', () => {
    const n = normal({ immediateData: false });
    expect(n.respond([['ImmediateData', 'Yes']]).reply).toEqual([['ImmediateData', 'No']]);
    expect(n.finalDeclarations()).toEqual([['MaxRecvDataSegmentLength', '262144']]);
  });

  it('reports a required digest that was never offered', () => {
    const n = normal({ dataDigests: ['CRC32C'] });
    const err = n.unmetRequirement();
    expect(err?.code).toBe('MISSING_KEY');
    expect(err?.key).toBe('DataDigest');
    n.respond([['DataDigest', 'CRC32C']]);
    expect(n.unmetRequirement()).toBeUndefined();
    expect(normal().unmetRequirement()).toBeUndefined();
  });
});

describe('real initiators', () => {
  it('open-iscsi normal login', () => {
    const n = normal();
    const { reply, error } = n.respond([
      ['InitiatorName', 'iqn.1993-08.org.debian:01:abcdef'],
      ['TargetName', 'iqn.2024-01.org.scatter:disk0'],
      ['SessionType', 'Normal'],
      ['HeaderDigest', 'None'],
      ['DataDigest', 'None'],
      ['DefaultTime2Wait', '2'],
      ['DefaultTime2Retain', '0'],
      ['IFMarker', 'No'],
      ['OFMarker', 'No'],
      ['ErrorRecoveryLevel', '0'],
      ['InitialR2T', 'No'],
      ['ImmediateData', 'Yes'],
      ['MaxBurstLength', '16776192'],
      ['FirstBurstLength', '262144'],
      ['MaxOutstandingR2T', '1'],
      ['MaxConnections', '1'],
      ['DataPDUInOrder', 'Yes'],
      ['DataSequenceInOrder', 'Yes'],
      ['MaxRecvDataSegmentLength', '262144'],
    ]);
    expect(error).toBeUndefined();
    expect(reply).toEqual([
      ['HeaderDigest', 'None'],
      ['DataDigest', 'None'],
      ['DefaultTime2Wait', '2'],
      ['DefaultTime2Retain', '0'],
      ['IFMarker', 'No'],
      ['OFMarker', 'No'],
      ['ErrorRecoveryLevel', '0'],
      ['InitialR2T', 'No'],
      ['ImmediateData', 'Yes'],
      ['MaxBurstLength', '1048576'],
      ['FirstBurstLength', '262144'],
      ['MaxOutstandingR2T', '1'],
      ['MaxConnections', '1'],
      ['DataPDUInOrder', 'Yes'],
      ['DataSequenceInOrder', 'Yes'],
      ['MaxRecvDataSegmentLength', '262144'],
    ]);
    expect(n.unmetRequirement()).toBeUndefined();
    expect(n.finalDeclarations()).toEqual([]);
    expect(n.result()).toEqual({
      headerDigest: false,
      dataDigest: false,
      maxRecvDataSegmentLength: 262144,
      maxXmitDataSegmentLength: 262144,
      maxBurstLength: 1048576,
      firstBurstLength: 262144,
      initialR2T: false,
      immediateData: true,
      maxOutstandingR2T: 1,
      maxConnections: 1,
      defaultTime2Wait: 2,
      defaultTime2Retain: 0,
      dataPduInOrder: true,
      dataSequenceInOrder: true,
      errorRecoveryLevel: 0,
    } satisfies SessionParams);
  });

  const libiscsiKeys: Pair[] = [
    ['HeaderDigest', 'None,CRC32C'],
    ['DataDigest', 'None'],
    ['InitialR2T', 'No'],
    ['ImmediateData', 'Yes'],
    ['MaxBurstLength', '262144'],
    ['FirstBurstLength', '262144'],
    ['DefaultTime2Wait', '2'],
    ['DefaultTime2Retain', '0'],
    ['MaxOutstandingR2T', '1'],
    ['ErrorRecoveryLevel', '0'],
    ['IFMarker', 'No'],
    ['OFMarker', 'No'],
    ['MaxConnections', '1'],
    ['MaxRecvDataSegmentLength', '262144'],
    ['DataPDUInOrder', 'Yes'],
    ['DataSequenceInOrder', 'Yes'],
  ];

  it('libiscsi normal login', () => {
    const n = normal();
    const { reply, error } = n.respond(libiscsiKeys);
    expect(error).toBeUndefined();
    expect(new Map(reply)).toEqual(
      new Map([
        ['HeaderDigest', 'None'],
        ['DataDigest', 'None'],
        ['InitialR2T', 'No'],
        ['ImmediateData', 'Yes'],
        ['MaxBurstLength', '262144'],
        ['FirstBurstLength', '262144'],
        ['DefaultTime2Wait', '2'],
        ['DefaultTime2Retain', '0'],
        ['MaxOutstandingR2T', '1'],
        ['ErrorRecoveryLevel', '0'],
        ['IFMarker', 'No'],
        ['OFMarker', 'No'],
        ['MaxConnections', '1'],
        ['MaxRecvDataSegmentLength', '262144'],
        ['DataPDUInOrder', 'Yes'],
        ['DataSequenceInOrder', 'Yes'],
      ]),
    );
    expect(reply).toHaveLength(libiscsiKeys.length);
    expect(n.result()).toMatchObject({
      headerDigest: false,
      maxBurstLength: 262144,
      firstBurstLength: 262144,
      maxXmitDataSegmentLength: 262144,
      initialR2T: false,
      immediateData: true,
    });
  });

  it('libiscsi with header digests required by the target', () => {
    const n = normal({ headerDigests: ['CRC32C'] });
    const { reply } = n.respond(libiscsiKeys);
    expect(reply).toContainEqual(['HeaderDigest', 'CRC32C']);
    expect(n.result().headerDigest).toBe(true);
  });

  it('libiscsi discovery login (it sends every key)', () => {
    const n = new OperationalNegotiator('Discovery');
    const { reply, error } = n.respond(libiscsiKeys);
    expect(error).toBeUndefined();
    const answers = new Map(reply);
    expect(answers.get('MaxBurstLength')).toBe('Irrelevant');
    expect(answers.get('InitialR2T')).toBe('Irrelevant');
    expect(answers.get('MaxConnections')).toBe('Irrelevant');
    expect(answers.get('HeaderDigest')).toBe('None');
    expect(answers.get('MaxRecvDataSegmentLength')).toBe('262144');
    expect(n.result().maxXmitDataSegmentLength).toBe(262144);
  });
});

describe('target config validation', () => {
  it.each<[Partial<TargetNegotiationConfig>]>([
    [{ maxRecvDataSegmentLength: 511 }],
    [{ maxRecvDataSegmentLength: 16777216 }],
    [{ maxBurstLength: 100 }],
    [{ firstBurstLength: 2097152 }],
    [{ maxOutstandingR2T: 0 }],
    [{ defaultTime2Wait: 3601 }],
    [{ defaultTime2Retain: -1 }],
    [{ headerDigests: [] }],
    [{ maxBurstLength: 1.5 }],
  ])('refuses %j', (overrides) => {
    expect(() => normal(overrides)).toThrow(RangeError);
  });

  it('accepts the defaults', () => {
    expect(() => new OperationalNegotiator('Normal')).not.toThrow();
  });
});
