import StoreSyncCore
import Testing

/// The reference node's `RangesData` encoding, from bytes derived by hand from its codec's rules
/// (SPEC.md section 9 walks through the first example).
@Suite struct StoreSyncCodecTests {
    static func hash(_ prefix: [UInt8]) -> MessageHash {
        MessageHash(bytes: prefix + [UInt8](repeating: 0, count: 32 - prefix.count))!
    }

    static let fingerprint = hash([UInt8](repeating: 0xF0, count: 32))
    static let first = hash([0x11] + [UInt8](repeating: 0x01, count: 31))
    static let second = hash([0x22] + [UInt8](repeating: 0x02, count: 31))

    /// A skip, a fingerprint whose upper bound shares its timestamp with the bound before it (so
    /// a hash prefix travels), and an item set of two keys with equal timestamps.
    static let example = RangesData(
        pubsubTopics: ["ps"], contentTopics: [], start: SyncKey(timestamp: 1_000),
        ranges: [
            .init(upper: SyncKey(timestamp: 1_300), content: .skip),
            .init(
                upper: SyncKey(timestamp: 1_300, hash: hash([0x00, 0x00, 0xAB])), content: .fingerprint(fingerprint)),
            .init(
                upper: SyncKey(timestamp: 1_500),
                content: .itemSet(
                    [SyncKey(timestamp: 1_400, hash: first), SyncKey(timestamp: 1_400, hash: second)],
                    reconciled: false)),
        ])

    static let exampleBytes: [UInt8] =
        [0x01, 0x02, 0x70, 0x73]  // one pubsub topic, "ps"
        + [0x00]  // no content topics
        + [0xE8, 0x07]  // first timestamp 1000
        + [0xAC, 0x02, 0x00]  // +300, skip
        + [0x00, 0x03, 0x00, 0x00, 0xAB, 0x01] + fingerprint.bytes  // +0: 3 hash bytes; fingerprint
        + [0xC8, 0x01, 0x02, 0x02]  // +200, item set of 2
        + [0xF8, 0x0A] + first.bytes  // 1400 from 0
        + [0x00] + second.bytes  // +0
        + [0x00]  // not reconciled

    @Test func theWorkedExampleEncodesAndDecodesByteForByte() throws {
        #expect(Self.example.encoded() == Self.exampleBytes)
        #expect(try RangesData(decoding: Self.exampleBytes) == Self.example)
    }

    @Test func anEmptyPayloadIsOneZeroByteAndAShortOneReadsAsEmpty() throws {
        #expect(RangesData(pubsubTopics: ["ps"]).encoded() == [0])
        for bytes: [UInt8] in [[], [0], [7]] {
            #expect(try RangesData(decoding: bytes) == RangesData())
        }
    }

    /// The prefix of an upper bound's hash is measured against the first lower bound's hash, not
    /// the bound before it: the reference encoder sends one byte here where two were needed, and
    /// the decoder fills the rest with zeros.
    @Test func hashPrefixesAreMeasuredAgainstTheFirstBound() throws {
        let data = RangesData(
            start: SyncKey(timestamp: 5),
            ranges: [
                .init(upper: SyncKey(timestamp: 5, hash: Self.hash([0xAA])), content: .skip),
                .init(upper: SyncKey(timestamp: 5, hash: Self.hash([0xAA, 0xBB])), content: .skip),
            ])
        let bytes = data.encoded()
        #expect(bytes == [0x00, 0x00, 0x05, 0x00, 0x01, 0xAA, 0x00, 0x00, 0x01, 0xAA, 0x00])
        let decoded = try RangesData(decoding: bytes)
        #expect(decoded.ranges.map(\.upper.hash) == [Self.hash([0xAA]), Self.hash([0xAA])])
    }

    /// The reference codec's round trips (`tests/waku_store_sync/test_codec.nim`): item sets,
    /// fingerprints and both mixed, at today's nanosecond timestamps.
    @Test(arguments: ["item sets", "fingerprints", "mixed"])
    func payloadsRoundTrip(shape: String) throws {
        var random = SplitMix64(seed: UInt64(shape.utf8.count))
        var time: UInt64 = 1_764_000_000_000_000_000
        func itemSet() -> RangesData.Range {
            let keys = (0..<5).map { _ in
                time += (1 + random.next() % 10) * 1_000
                return SyncKey(timestamp: time, hash: random.hash())
            }
            return .init(upper: SyncKey(timestamp: time), content: .itemSet(keys, reconciled: true))
        }
        func fingerprint() -> RangesData.Range {
            time += 10_000_000_000
            return .init(upper: SyncKey(timestamp: time), content: .fingerprint(random.hash()))
        }
        let start = SyncKey(timestamp: time)
        let ranges: [RangesData.Range] =
            switch shape {
            case "item sets": (0..<4).map { _ in itemSet() }
            case "fingerprints": (0..<4).map { _ in fingerprint() }
            default: [fingerprint(), itemSet(), fingerprint(), itemSet()]
            }
        let payload = RangesData(pubsubTopics: ["/waku/2/rs/0/0"], start: start, ranges: ranges)
        #expect(try RangesData(decoding: payload.encoded()) == payload)
    }

    @Test func malformedPayloadsAreRefusedWithTheirOffset() {
        let cases: [([UInt8], WireError)] = [
            ([0x00, 0x00, 0x05, 0x01, 0x03], .invalidMode(3, offset: 4)),
            (
                [0x00, 0x00, 0x05, 0x00, 0x21] + [UInt8](repeating: 0, count: 33),
                .boundPrefixTooLong(length: 33, offset: 4)
            ),
            ([0x00, 0x00, 0x05, 0x01, 0x02, 0x05], .idCountExceedsInput(count: 5, offset: 5)),
            (
                [0x00, 0x00, 0x05, 0x01, 0x02, 0x01, 0x00] + [UInt8](repeating: 0, count: 32) + [0x02],
                .invalidFlag(2, offset: 39)
            ),
            ([0x41, 0x00], .tooManyTopics(count: 65, offset: 0)),
            ([0x00, 0x00, 0x80, 0x00, 0x01, 0x00], .nonMinimalVarInt(what: "first timestamp", offset: 2)),
            ([0x00, 0x00, 0x05, 0x01], .truncated(what: "range type", offset: 4)),
            ([0x01, 0x01, 0xFF, 0x00, 0x00], .invalidTopic(offset: 1)),
        ]
        for (bytes, expected) in cases {
            #expect(throws: expected) { try RangesData(decoding: bytes) }
        }
    }

    @Test func decodingStopsAtItsLimits() {
        let many = RangesData(
            start: SyncKey(timestamp: 1),
            ranges: (2..<50).map {
                RangesData.Range(upper: SyncKey(timestamp: UInt64($0)), content: .fingerprint(.zero))
            })
        #expect(throws: WireError.tooManyRanges(limit: 10)) {
            try RangesData(decoding: many.encoded(), limits: DecodingLimits(maximumRanges: 10, maximumIds: 10))
        }
    }
}
